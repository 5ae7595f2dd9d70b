"""Slack's AI-app (assistant) threads: a title from the question, suggested prompts that
follow the conversation, and prompts seeded by the channel the person is looking at.

All of it is best effort: a thread that is not an assistant thread (a plain DM, an older
workspace) refuses these calls, and the answer itself never depends on them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.prompts import Understanding
from bot.threads import ThreadRef
from stores import SessionInfo

log = logging.getLogger(__name__)

Prompt = dict[str, str]

MAX_PROMPTS = 4
TITLE_LIMIT = 100
PROMPT_TITLE_LIMIT = 60
STARTER_PROMPTS: list[Prompt] = [
    {"title": "Revenue trend", "message": "How has Apple's revenue changed since 2021?"},
    {"title": "Compare margins", "message": "Compare Microsoft's and Alphabet's margins in 2024"},
    {"title": "Latest news", "message": "What is the latest news on Nvidia?"},
]


def thread_title(understanding: Understanding, question: str) -> str:
    """What the thread is about, for the assistant's thread list."""
    title = understanding.intent.strip() or understanding.resolved_query.strip() or question
    return _clip(title[:1].upper() + title[1:], TITLE_LIMIT)


def follow_up_prompts(understanding: Understanding) -> list[Prompt]:
    """Next questions about the companies just researched: peers, margins, latest filing,
    and the comparison when there were two."""
    names = understanding.companies or understanding.tickers
    if not names:
        return STARTER_PROMPTS
    first = names[0]
    prompts = [
        {
            "title": f"{first}'s peers",
            "message": f"How does {first} compare with its closest peers on growth and margins?",
        },
        {
            "title": f"{first}'s margin trend",
            "message": f"How have {first}'s gross and operating margins changed since 2021?",
        },
        {
            "title": f"{first}'s latest filing",
            "message": f"What stands out in {first}'s latest 10-K or 10-Q filing?",
        },
    ]
    if len(names) > 1:
        prompts.insert(
            0,
            {
                "title": f"{first} or {names[1]}?",
                "message": f"Which of {first} and {names[1]} grew revenue faster?",
            },
        )
    return [_clipped(prompt) for prompt in prompts[:MAX_PROMPTS]]


def channel_prompts(sessions: Sequence[SessionInfo]) -> list[Prompt]:
    """Dexter's recent research in the channel the person is viewing, to pick up again."""
    recent = [
        {"title": f"Again: {s.first_question}", "message": s.first_question}
        for s in sessions
        if s.first_question.strip()
    ]
    return [_clipped(prompt) for prompt in [*recent, *STARTER_PROMPTS][:MAX_PROMPTS]]


class AssistantThreads:
    """The assistant-thread calls Dexter makes around an answer."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def answered(
        self, thread: ThreadRef, understanding: Understanding, question: str, *, first: bool
    ) -> None:
        """Title the thread after its first answer; offer follow-ups after every answer."""
        if first:
            await self._call(
                "setTitle",
                thread,
                lambda: self.client.assistant_threads_setTitle(
                    channel_id=thread.channel,
                    thread_ts=thread.thread_ts,
                    title=thread_title(understanding, question),
                ),
            )
        await self.suggest(thread, follow_up_prompts(understanding), "Ask next")

    async def suggest(self, thread: ThreadRef, prompts: list[Prompt], title: str) -> None:
        await self._call(
            "setSuggestedPrompts",
            thread,
            lambda: self.client.assistant_threads_setSuggestedPrompts(
                channel_id=thread.channel, thread_ts=thread.thread_ts, prompts=prompts, title=title
            ),
        )

    async def _call(
        self, what: str, thread: ThreadRef, call: Callable[[], Awaitable[object]]
    ) -> None:
        try:
            await call()
        except SlackApiError as exc:
            log.info("assistant.threads.%s refused in %s: %s", what, thread.session_id, exc)


def _clipped(prompt: Prompt) -> Prompt:
    return {"title": _clip(prompt["title"], PROMPT_TITLE_LIMIT), "message": prompt["message"]}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
