"""Answer: the streamed Markdown reply, grounded in the gathered data and the thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from agent.llm import LLMClient, Message, Usage
from agent.phases.execute import Gathered
from agent.prompts import ANSWER_MAX_TOKENS, ANSWER_SYSTEM, ANSWER_USER, Understanding, fenced


async def answer(
    llm: LLMClient,
    query: str,
    understanding: Understanding,
    history: Sequence[Message],
    gathered: str,
    on_token: Callable[[str], Awaitable[None]],
) -> tuple[str, Usage]:
    """Stream the answer to `on_token`; return the whole text and its usage."""
    messages: list[Message] = [
        {"role": "system", "content": ANSWER_SYSTEM},
        *history,
        {
            "role": "user",
            "content": ANSWER_USER.format(
                question=fenced("question", query),
                resolved=fenced("question", understanding.resolved_query),
                data=fenced("data", gathered or "(no data could be gathered)"),
            ),
        },
    ]
    text, usage = await llm.stream(messages, on_token, max_tokens=ANSWER_MAX_TOKENS)
    return text.strip(), usage


def nothing_fetched(gathered: Gathered) -> str:
    """The answer when every data call failed: what could not be fetched, and no figure."""
    failed = "\n".join(f"- {result.label}" for result in gathered.results.values())
    return (
        "I couldn't fetch the market data this question needs, so I won't guess at figures. "
        f"These calls returned nothing:\n{failed}\n\n"
        "The data service may be down or slow; please try again in a few minutes."
    )
