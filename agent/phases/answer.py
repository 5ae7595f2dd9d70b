"""Answer: the streamed Markdown reply, grounded in the gathered data and the thread."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

from agent.echoes import EchoFilter
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
    """Stream the answer to `on_token`, without the prompt's fence tags a model may echo;
    return the text shown and its usage."""
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
    echoes = EchoFilter()
    shown: list[str] = []

    async def show(piece: str) -> None:
        if text := echoes.feed(piece):
            shown.append(text)
            await on_token(text)

    _, usage = await llm.stream(messages, show, max_tokens=ANSWER_MAX_TOKENS)
    if held := echoes.flush():  # a tag begun and never finished is text after all
        shown.append(held)
        await on_token(held)
    return "".join(shown).strip(), usage


def nothing_fetched(gathered: Gathered) -> str:
    """The answer when every data call failed: what could not be fetched, and no figure."""
    failed = "\n".join(f"- {result.label}" for result in gathered.results.values())
    return (
        "I couldn't fetch the market data this question needs, so I won't guess at figures. "
        f"These calls returned nothing:\n{failed}\n\n"
        "Check the company (or its ticker) and the period; if they are right, the data "
        "service may be down or slow, so please try again in a few minutes."
    )


FIGURE = re.compile(
    r"\$\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(?:%|percent\b)", re.IGNORECASE
)
"""A money amount or a percentage: what a reader takes for a fact from the data."""

NO_DATA = (
    "I didn't find market data for this question, so I won't state figures. Please name the "
    "company (or its ticker) and the period you mean, and ask again."
)


def unsupported_figures(text: str, grounds: Sequence[str]) -> list[str]:
    """The money amounts and percentages of `text` whose number appears in none of
    `grounds` (the question and the thread's earlier turns): with no data fetched, those
    can only be made up."""
    known = " ".join(grounds).replace(",", "")
    found = []
    for match in FIGURE.finditer(text):
        number = (match.group(1) or match.group(2)).replace(",", "")
        if number not in known:
            found.append(match.group(0).strip())
    return found


def history_text(history: Sequence[Message]) -> list[str]:
    """The text of the earlier turns sent to the model, where figures may come from."""
    return [str(message.get("content") or "") for message in history]
