"""Research progress in the thread: one status message, edited as the agent advances.

The agent's typed events update a small `ResearchStatus`; `status_text` renders it; edits
are throttled (Slack allows about one `chat.update` a second per message) and the latest
state always reaches the screen: an event that arrives while an edit is on its way, or an
edit the rate budget defers, is shown by the next edit, at most `interval` later. An edit
that would show what is already there is not sent. In an AI app (assistant) thread the
status bar (`assistant.threads.setStatus`) is used instead of a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.errors import duration
from agent.progress import (
    AnswerToken,
    PhaseStarted,
    PlanReady,
    ProgressEvent,
    TakingLong,
    ToolFinished,
    ToolStarted,
)
from bot.blocks import answer_messages, feedback_block, status_blocks
from bot.rate_budget import RateBudget
from bot.rendering import clip_mrkdwn, escape_mrkdwn, to_mrkdwn
from bot.threads import ThreadRef
from stores import Source

log = logging.getLogger(__name__)

STATUS_TEXT_LIMIT = 2900
PARTIAL_ANSWER_LIMIT = 2400
SHOWN_TOOLS = 8
PHASE_LINES = {
    "waiting": "Waiting for the earlier answer in this thread to finish",
    "understanding": "Reading the question",
    "planning": "Planning the research",
    "executing": "Gathering market data",
    "reflecting": "Checking the data is enough",
    "answering": "Writing the answer",
}
LOADING = (
    "Reading the question…",
    "Planning the research…",
    "Pulling statements and prices…",
    "Checking the figures…",
    "Writing it up…",
)
"""What Slack rotates under the status bar of an AI app thread while Dexter works."""
SLOW_STATUS_BAR = "is still working: this one is taking a while…"
STATUS_BAR = {
    "waiting": "is waiting for the earlier answer…",
    "understanding": "is reading the question…",
    "planning": "is planning the research…",
    "executing": "is gathering market data…",
    "reflecting": "is checking the data…",
    "answering": "is writing the answer…",
}


@dataclass
class ResearchStatus:
    """What the thread is told about one answer in progress."""

    question: str
    phase: str = "understanding"
    tasks: list[str] = field(default_factory=list)
    tools: dict[str, tuple[str, bool | None]] = field(default_factory=dict)
    answer: str = ""
    slow: TakingLong | None = None
    """Set once the answer runs long: the person is told, and by when it will end."""

    def apply(self, event: ProgressEvent) -> bool:
        """Fold `event` in; False when it changes nothing worth showing."""
        if isinstance(event, PhaseStarted):
            if event.phase == self.phase:
                return False
            self.phase = event.phase
        elif isinstance(event, TakingLong):
            self.slow = event
        elif isinstance(event, PlanReady):
            self.tasks = [task.description for task in event.tasks]
        elif isinstance(event, ToolStarted):
            self.tools[event.call_id] = (event.label, None)
        elif isinstance(event, ToolFinished):
            self.tools[event.call_id] = (event.label, event.ok)
        elif isinstance(event, AnswerToken):
            self.answer += event.text
        else:
            return False
        return True


def status_text(status: ResearchStatus) -> str:
    """The status message: the phase, the plan, each data call and its outcome."""
    if status.phase == "answering" and status.answer.strip():
        partial = clip_mrkdwn(to_mrkdwn(status.answer), PARTIAL_ANSWER_LIMIT)
        return f"{partial}\n\n_:writing_hand: still writing…_"
    question = clip_mrkdwn(escape_mrkdwn(" ".join(status.question.split())), 150)
    lines = [f":mag: *Researching:* _{question}_"]
    if status.tasks:
        lines.append("*Plan*")
        lines += [f"{n}. {escape_mrkdwn(t)}" for n, t in enumerate(status.tasks, start=1)]
    calls = list(status.tools.values())
    for label, ok in calls[-SHOWN_TOOLS:]:
        mark = ":hourglass_flowing_sand:" if ok is None else ":white_check_mark:" if ok else ":x:"
        note = "" if ok is not False else " (no data)"
        lines.append(f"{mark} {escape_mrkdwn(label)}{note}")
    if len(calls) > SHOWN_TOOLS:
        lines.append(f"_…and {len(calls) - SHOWN_TOOLS} earlier data calls_")
    lines.append(f"_{PHASE_LINES.get(status.phase, status.phase)}…_")
    if status.slow is not None:
        lines.append(slow_note(status.slow))
    return clip_mrkdwn("\n".join(lines), STATUS_TEXT_LIMIT)


def slow_note(event: TakingLong) -> str:
    """The line that tells the person a slow answer is still coming, and until when."""
    return (
        f":hourglass: _This is taking longer than usual. I'm still on it, and I'll stop "
        f"and tell you here if it isn't done within {duration(event.deadline)}._"
    )


EditOutcome = Literal["shown", "deferred", "failed"]
"""An edit reached Slack, was held back by the rate budget (or Slack's `Retry-After`) and
is worth trying again soon, or failed in a way another try would not fix at once."""


class StatusUpdater:
    """Best-effort status edits, shared by every thread of the app.

    Slack allows `chat.update` about once a second per workspace (Tier 3, 50+ a minute,
    short bursts tolerated), so edits draw from a token bucket of that rate and are
    skipped when it is empty; the next progress event tries again. An edit is worth nothing
    once stale, so it is never retried: a 429 pauses all edits for the `Retry-After` Slack
    asked for, leaving the rate limit to the answers (sent through the retrying client).
    """

    def __init__(self, client: AsyncWebClient, *, per_second: float = 1.0, burst: int = 10) -> None:
        self.client = client
        self.budget = RateBudget(per_second, burst)

    async def edit(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> EditOutcome:
        return await self._call(
            self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks
        )

    async def set_status_bar(
        self,
        channel: str,
        thread_ts: str,
        status: str,
        loading_messages: Sequence[str] | None = None,
    ) -> EditOutcome:
        return await self._call(
            self.client.assistant_threads_setStatus,
            channel_id=channel,
            thread_ts=thread_ts,
            status=status,
            loading_messages=list(loading_messages) if loading_messages else None,
        )

    def ready_in(self) -> float:
        """Seconds until the budget may allow an edit again (Slack's pause included)."""
        paused = self.budget.paused_until - time.monotonic()
        return max(paused, 1 / self.budget.per_second)

    async def _call(self, method: Callable[..., Awaitable[Any]], **params: Any) -> EditOutcome:
        if not self.budget.take():
            return "deferred"
        try:
            await method(**params)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("status edit failed: %s", exc)
            return "failed"
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                retry_after = float(exc.response.headers.get("Retry-After", 1))
                self.budget.pause(retry_after)
                log.info("status edits paused for %.0f s by Slack's rate limit", retry_after)
                return "deferred"
            log.info("status edit refused: %s", exc.response.get("error"))
            return "failed"
        return "shown"


class ThreadProgress:
    """Shows one answer's progress in its thread, then puts the answer in its place."""

    def __init__(
        self,
        client: AsyncWebClient,
        updater: StatusUpdater,
        thread: ThreadRef,
        question: str,
        *,
        interval: float,
        assistant_thread: bool,
        stop_key: str | None = None,
    ) -> None:
        self.client = client
        self.stop_key = stop_key
        """The question's key on the status message's Stop button; None shows no button."""
        self.updater = updater
        self.thread = thread
        self.status = ResearchStatus(question)
        self.interval = interval
        self.assistant_thread = assistant_thread
        self.message_ts: str | None = None
        self._uses_status_bar = False
        self._last_shown = 0.0
        self._on_screen = ""
        """What the status message or bar shows now, so an edit to the same is not sent."""
        self._version = 0
        """Counts the changes folded in, so the edit loop knows when it has shown the last."""
        self._pending: asyncio.Task[None] | None = None
        self._slack = asyncio.Lock()

    async def start(self) -> None:
        """Show that Dexter is on it: the status bar in an AI app thread, else a message."""
        if self.assistant_thread:
            bar = STATUS_BAR["understanding"]
            shown = await self.updater.set_status_bar(
                self.thread.channel, self.thread.thread_ts, bar, LOADING
            )
            if shown == "shown":
                self._uses_status_bar = True
                self._on_screen = bar
                return
        text = status_text(self.status)
        response = await self.client.chat_postMessage(
            channel=self.thread.channel,
            thread_ts=self.thread.thread_ts,
            text=text,
            blocks=status_blocks(text, self.stop_key),
        )
        self.message_ts = response["ts"]
        self._on_screen = text
        self._last_shown = time.monotonic()

    async def on_event(self, event: ProgressEvent) -> None:
        """The agent's progress callback: fold the event in, show it when the throttle allows."""
        if not self.status.apply(event):
            return
        self._version += 1
        if self._pending is None or self._pending.done():
            wait = max(0.0, self._last_shown + self.interval - time.monotonic())
            self._pending = asyncio.create_task(self._show_latest(wait))

    async def answered(
        self, answer: str, sources: Sequence[Source], rated: tuple[str, int] | None
    ) -> None:
        """Put the answer where the status was, with 👍 / 👎 buttons when it was stored."""
        after = [] if rated is None else [feedback_block(*rated, native=False)]
        await self.finish(answer_messages(answer, sources, after))

    async def failed(self, message: dict[str, Any]) -> None:
        """Put `message` (an apology, a restart notice) where the status was."""
        await self.finish([message])

    async def finish(self, messages: Sequence[dict[str, Any]]) -> list[str]:
        """Replace the status with the first message, post the rest; return their ts."""
        await self._stop_updates()
        posted: list[str] = []
        rest = list(messages)
        async with self._slack:
            if self.message_ts is not None and rest:
                first = rest.pop(0)
                await self.client.chat_update(
                    channel=self.thread.channel, ts=self.message_ts, **first
                )
                posted.append(self.message_ts)
            for payload in rest:
                response = await self.client.chat_postMessage(
                    channel=self.thread.channel, thread_ts=self.thread.thread_ts, **payload
                )
                posted.append(response["ts"])
        return posted

    async def _stop_updates(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending

    async def _show_latest(self, wait: float) -> None:
        """Edit until the screen shows the latest state: events folded in during an edit,
        or an edit the budget deferred, bring another edit, never a stale status."""
        while True:
            await asyncio.sleep(wait)
            async with self._slack:
                version = self._version
                self._last_shown = time.monotonic()
                outcome = await self._show()
            if outcome == "deferred":
                wait = max(self.interval, self.updater.ready_in())
            elif version != self._version:
                wait = self.interval
            else:
                return

    async def _show(self) -> EditOutcome:
        """Show the status as it stands, unless that is what the screen shows already."""
        if self._uses_status_bar:
            shown = self._status_bar_text()
            if shown == self._on_screen:
                return "shown"
            outcome = await self.updater.set_status_bar(
                self.thread.channel, self.thread.thread_ts, shown
            )
        elif self.message_ts is not None:
            shown = status_text(self.status)
            if shown == self._on_screen:
                return "shown"
            outcome = await self.updater.edit(
                self.thread.channel, self.message_ts, shown, status_blocks(shown, self.stop_key)
            )
        else:
            return "shown"
        if outcome == "shown":
            self._on_screen = shown
        return outcome

    def _status_bar_text(self) -> str:
        if self.status.slow is not None:
            return SLOW_STATUS_BAR
        return STATUS_BAR.get(self.status.phase, "is working…")
