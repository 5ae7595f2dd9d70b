"""What the Slack listeners need, built once by the app and handed to each by Bolt."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncBoltContext

from bot.answering import ThreadAnswerer
from bot.app_home import AppHome
from bot.assistant_threads import AssistantThreads
from bot.thread_history import ThreadHistory


@dataclass(frozen=True, slots=True)
class BotServices:
    answerer: ThreadAnswerer
    history: ThreadHistory
    assistant: AssistantThreads
    home: AppHome
    follow_up_without_mention: bool
    max_question_chars: int

    async def attach(self, context: AsyncBoltContext, next_: Callable[[], Awaitable[None]]) -> None:
        """Bolt middleware: a listener gets these by naming a parameter `services`."""
        context["services"] = self
        await next_()
