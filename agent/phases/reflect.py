"""Reflect: is the gathered data enough to answer, and if not, what is missing?"""

from __future__ import annotations

import logging

from agent.llm import InvalidReply, LLMClient, Message, Usage
from agent.prompts import REFLECT_MAX_TOKENS, REFLECT_SYSTEM, Reflection, Understanding, fenced

log = logging.getLogger(__name__)


async def reflect(
    llm: LLMClient, understanding: Understanding, gathered: str
) -> tuple[Reflection, Usage]:
    """The cheap model's verdict; an unusable reply counts as "enough" so the run ends."""
    messages: list[Message] = [
        {"role": "system", "content": REFLECT_SYSTEM},
        {
            "role": "user",
            "content": f"Question:\n{fenced('question', understanding.resolved_query)}\n\n"
            f"Data gathered:\n{fenced('data', gathered)}",
        },
    ]
    try:
        return await llm.structured(messages, Reflection, cheap=True, max_tokens=REFLECT_MAX_TOKENS)
    except InvalidReply as exc:
        log.warning("reflect step unusable, answering with what we have: %s", exc)
        return Reflection(sufficient=True), exc.usage
