"""Understand: the question's intent and entities, references to earlier turns resolved."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from agent.llm import InvalidReply, LLMClient, Message, Usage
from agent.prompts import UNDERSTAND_MAX_TOKENS, UNDERSTAND_SYSTEM, Understanding, fenced

log = logging.getLogger(__name__)


async def understand(
    llm: LLMClient, query: str, history: Sequence[Message]
) -> tuple[Understanding, Usage]:
    """Ask the cheap model what `query` means given the selected earlier turns.

    An unusable reply leaves the question as asked: the later steps still work from it.
    """
    messages: list[Message] = [
        {"role": "system", "content": UNDERSTAND_SYSTEM},
        *history,
        {"role": "user", "content": fenced("question", query)},
    ]
    try:
        return await llm.structured(
            messages, Understanding, cheap=True, max_tokens=UNDERSTAND_MAX_TOKENS
        )
    except InvalidReply as exc:
        log.warning("understand step fell back to the literal question: %s", exc)
        return Understanding(intent=query, resolved_query=query), Usage()
