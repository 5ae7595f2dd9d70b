"""Understand: the question's intent and entities, references to earlier turns resolved."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from agent.llm import InvalidReply, LLMClient, Message, Usage
from agent.prompts import (
    UNDERSTAND_MAX_TOKENS,
    UNDERSTAND_SYSTEM,
    Understanding,
    UnderstandingReply,
    fenced,
)

log = logging.getLogger(__name__)


async def understand(
    llm: LLMClient, query: str, history: Sequence[Message], *, fallback: str
) -> tuple[Understanding, Usage]:
    """Ask the cheap model what `query` means given the selected earlier turns.

    A reply that is not JSON of that shape, or whose question is not in words (a timestamp,
    an id, a placeholder), is shown to the model once; a second unusable reply leaves
    `fallback` as the question: the later steps still work from it
    (the caller passes the question with the thread's recent companies, so "and Microsoft?"
    does not reach the plan alone).
    """
    messages: list[Message] = [
        {"role": "system", "content": UNDERSTAND_SYSTEM},
        *history,
        {"role": "user", "content": fenced("question", query)},
    ]
    try:
        return await llm.structured(
            messages, UnderstandingReply, cheap=True, max_tokens=UNDERSTAND_MAX_TOKENS
        )
    except InvalidReply as exc:
        log.warning("understand step fell back to the question with recent companies: %s", exc)
        return Understanding(intent=fallback, resolved_query=fallback), exc.usage
