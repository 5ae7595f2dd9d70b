"""Summarise a finished turn in 1-2 sentences for later context selection."""

from __future__ import annotations

import logging

from agent.errors import ModelError
from agent.llm import InvalidReply, LLMClient, Message, Usage
from agent.prompts import SUMMARY_MAX_TOKENS, SUMMARY_SYSTEM, TurnSummary, fenced
from agent.summary import extractive_summary

log = logging.getLogger(__name__)


async def summarise(llm: LLMClient | None, question: str, answer: str) -> tuple[str, Usage]:
    """The model's summary when `llm` is given and answers well, else an extractive one."""
    if llm is not None:
        messages: list[Message] = [
            {"role": "system", "content": SUMMARY_SYSTEM},
            {
                "role": "user",
                "content": f"Question:\n{fenced('question', question)}\n\n"
                f"Answer:\n{fenced('answer', answer)}",
            },
        ]
        try:
            result, usage = await llm.structured(
                messages, TurnSummary, cheap=True, max_tokens=SUMMARY_MAX_TOKENS
            )
            return result.summary.strip(), usage
        except InvalidReply as exc:
            log.warning("model summary unusable, using the extractive one: %s", exc)
            return extractive_summary(question, answer), exc.usage
        except ModelError as exc:
            log.warning("model summary failed, using the extractive one: %s", exc)
    return extractive_summary(question, answer), Usage()
