"""One answer streamed into its thread with Slack's chat streaming methods.

A plan block shows the research as it runs: reading the question, planning, each planned
task pending, then in progress, then complete (or error when none of its round's data
came back), every data call with what it fetched ("income statements · AAPL"), each
reflection round as an added task. Then the answer streams in as the model writes it,
and the stop adds the sources. Whatever changed since the last call goes into one
`chat.appendStream`, at most one every `interval` seconds, so an answer costs a start, a
stop and about one append per `interval` of research. Appends of all streams draw from one
budget (`bot.rate_budget`) at the method's workspace limit (Tier 4, about 100 a minute):
when many answers run at once, each gets fewer appends, never a 429.

The caller falls back to the status message (`bot.status_message.ThreadProgress`) when
Slack will not start a stream. A call that fails mid-stream stops the appends; the stop
still carries the answer (or the apology). If the stop fails too (a stream Slack already
closed, say), the answer or apology is posted as a message of its own, so every answer
ends as a finished message and no stream is left open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

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
from bot.blocks import (
    Message,
    answer_messages,
    feedback_block,
    sources_block,
    stop_actions,
)
from bot.rate_budget import RateBudget
from bot.threads import ThreadRef
from stores import Source

log = logging.getLogger(__name__)

Rated = tuple[str, int] | None
"""The answer's session and seq, for its feedback buttons; None for an answer not stored."""

MARKDOWN_LIMIT = 12_000
"""Characters of `markdown_text` Slack takes per chunk."""
TITLE_LIMIT = 256
PHASE_TASKS = {
    "waiting": "Waiting for the earlier answer in this thread",
    "understanding": "Reading the question",
    "planning": "Planning the research",
    "reflecting": "Checking the data is enough",
    "answering": "Writing the answer",
}

SLOW_TASK = "taking-long"
"""The plan's entry that tells the person a slow answer is still coming."""


class StreamedAnswer:
    """Streams one answer; `start` raises `SlackApiError` when Slack refuses the stream."""

    def __init__(
        self,
        client: AsyncWebClient,
        thread: ThreadRef,
        *,
        user: str,
        question: str,
        interval: float,
        budget: RateBudget,
        stop_key: str | None = None,
    ) -> None:
        self.client = client
        self.budget = budget
        self.stop_key = stop_key
        self._control_ts: str | None = None
        self._offering: asyncio.Task[None] | None = None
        self.thread = thread
        self.user = user
        self.question = " ".join(question.split())
        self.interval = interval
        self.ts: str | None = None
        self._tasks: dict[str, dict[str, str]] = {}
        self._changed: dict[str, dict[str, str]] = {}
        self._open_phase: str | None = None
        self._round_tasks: dict[int, list[str]] = {}
        self._round_calls: dict[int, list[bool]] = {}
        self._round = 1
        self._call_ids: dict[str, str] = {}
        self._text_sent = ""
        self._text_waiting = ""
        self._broken = False
        self._wake = asyncio.Event()
        self._slack = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._phase("understanding")
        response = await self.client.chat_startStream(
            channel=self.thread.channel,
            thread_ts=self.thread.thread_ts,
            recipient_user_id=self.user,
            recipient_team_id=self.thread.team,
            task_display_mode="plan",
            chunks=[self._plan_title("Researching"), *self._take_changes()],
        )
        self.ts = response["ts"]
        self._flusher = asyncio.create_task(self._keep_flushing(), name="stream appends")
        if self.stop_key is not None:  # beside the research, not before it
            self._offering = asyncio.create_task(self._offer_stop(self.stop_key))

    async def _offer_stop(self, key: str) -> None:
        """A small message with the Stop button below the stream, deleted when it ends: a
        streamed message cannot lose a button once it is in."""
        try:
            response = await self.client.chat_postMessage(
                channel=self.thread.channel,
                thread_ts=self.thread.thread_ts,
                text="Researching… Stop it if you no longer need the answer.",
                blocks=[stop_actions(key)],
            )
        except SlackApiError as exc:
            log.info("no Stop button for this answer: %s", _error(exc))
            return
        self._control_ts = response["ts"]

    async def _withdraw_stop(self) -> None:
        if self._offering is not None:
            await self._offering
        if self._control_ts is None:
            return
        ts, self._control_ts = self._control_ts, None
        try:
            await self.client.chat_delete(channel=self.thread.channel, ts=ts)
        except SlackApiError as exc:
            log.info("could not delete the Stop button: %s", _error(exc))

    async def on_event(self, event: ProgressEvent) -> None:
        """Fold the agent's event into the plan or the text; the next append carries it."""
        if isinstance(event, PhaseStarted):
            self._phase(event.phase, event.iteration)
        elif isinstance(event, PlanReady):
            self._planned(event)
        elif isinstance(event, ToolStarted):
            task_id = self._call_ids.setdefault(event.call_id, f"call-{len(self._call_ids) + 1}")
            self._set(task_id, event.label, "in_progress")
        elif isinstance(event, ToolFinished):
            self._fetched(event)
        elif isinstance(event, TakingLong):
            self._set(
                SLOW_TASK,
                "Taking longer than usual",
                "in_progress",
                details=f"I'll stop and say so here if it isn't done within "
                f"{duration(event.deadline)}.",
            )
        elif isinstance(event, AnswerToken):
            self._text_waiting += event.text
        else:
            return
        self._wake.set()

    async def answered(self, answer: str, sources: Sequence[Source], rated: Rated) -> None:
        """Stop the stream with the rest of the answer, its sources and 👍 / 👎."""
        blocks = [block for block in [sources_block(sources)] if block is not None]
        fallback = answer_messages(answer, sources)
        if rated is not None:
            blocks.append(feedback_block(*rated, native=True))
            fallback = answer_messages(answer, sources, [feedback_block(*rated, native=False)])
        await self._stop("complete", "Researched", answer, blocks, fallback)

    async def failed(self, message: Message) -> None:
        """Stop the stream with `message` (an apology, a restart notice) at its end."""
        await self._stop("error", "Stopped", "", list(message["blocks"]), [message])

    # --- the plan --------------------------------------------------------------------------

    def _phase(self, phase: str, iteration: int = 1) -> None:
        if self._open_phase is not None:
            self._set(self._open_phase, self._tasks[self._open_phase]["title"], "complete")
            self._open_phase = None
        if phase in ("reflecting", "answering"):
            self._close_round()
        if phase == "executing":
            for task_id in self._round_tasks.get(iteration, []):
                self._set(task_id, self._tasks[task_id]["title"], "in_progress")
            self._round = iteration
            return
        title = PHASE_TASKS.get(phase)
        if title is None:
            return
        if iteration > 1 and phase in ("planning", "reflecting"):
            title = f"{title} (round {iteration})"
        task_id = f"{phase}-{iteration}"
        self._set(task_id, title, "in_progress")
        self._open_phase = task_id

    def _planned(self, event: PlanReady) -> None:
        ids = []
        for task in event.tasks:
            task_id = f"plan-{event.iteration}-{task.id}"
            self._set(task_id, task.description, "pending")
            ids.append(task_id)
        self._round_tasks[event.iteration] = ids

    def _fetched(self, event: ToolFinished) -> None:
        task_id = self._call_ids.setdefault(event.call_id, f"call-{len(self._call_ids) + 1}")
        self._round_calls.setdefault(self._round, []).append(event.ok)
        if event.ok:
            self._set(task_id, event.label, "complete")
        else:
            self._set(task_id, event.label, "error", details=event.error or "no data")

    def _close_round(self) -> None:
        """The round's planned tasks are done: complete, or error if no call of it worked."""
        calls = self._round_calls.get(self._round, [])
        status = "error" if calls and not any(calls) else "complete"
        for task_id in self._round_tasks.get(self._round, []):
            if self._tasks[task_id]["status"] in ("pending", "in_progress"):
                self._set(task_id, self._tasks[task_id]["title"], status)

    def _finish_open_tasks(self, status: str) -> None:
        for task_id, task in self._tasks.items():
            if task["status"] in ("pending", "in_progress"):
                self._set(task_id, task["title"], status)
        self._open_phase = None

    def _set(self, task_id: str, title: str, status: str, *, details: str = "") -> None:
        """Show a task's new status; its details stay unless new ones are given."""
        chunk = {"type": "task_update", "id": task_id, "title": _clip(title), "status": status}
        details = details or self._tasks.get(task_id, {}).get("details", "")
        if details:
            chunk["details"] = _clip(details)
        self._tasks[task_id] = chunk
        self._changed[task_id] = chunk

    def _plan_title(self, verb: str) -> dict[str, str]:
        return {"type": "plan_update", "title": _clip(f"{verb}: {self.question}")}

    def _take_changes(self) -> list[dict[str, str]]:
        changes, self._changed = list(self._changed.values()), {}
        return changes

    # --- Slack calls -----------------------------------------------------------------------

    def _rest_of(self, answer: str) -> str:
        """What Slack has not shown yet of the final `answer`: the streamed tokens, stripped,
        or the whole answer when the model did not write it (no data came back, say)."""
        shown = self._text_sent.lstrip()
        self._text_waiting = ""
        if answer.startswith(shown):
            return answer[len(shown) :]
        log.warning("the streamed text and the answer differ; adding the answer below")
        return f"\n\n{answer}"

    async def _keep_flushing(self) -> None:
        """Append what changed, at most every `interval`, when the app-wide budget allows;
        otherwise it waits for the next turn (or the stop, which carries everything)."""
        while not self._broken:
            await self._wake.wait()
            if self.budget.take():
                self._wake.clear()
                async with self._slack:
                    await self._append()
            await asyncio.sleep(self.interval)

    async def _append(self) -> None:
        chunks: list[dict[str, str]] = self._take_changes()
        text, self._text_waiting = self._text_waiting, ""
        chunks += [{"type": "markdown_text", "text": piece} for piece in _pieces(text)]
        if not chunks or self.ts is None:
            return
        try:
            await self.client.chat_appendStream(
                channel=self.thread.channel, ts=self.ts, chunks=chunks
            )
        except SlackApiError as exc:
            self._broken = True
            log.warning("stream append refused (%s); the stop will carry the rest", _error(exc))
            self._text_waiting = text + self._text_waiting
            return
        self._text_sent += text

    async def _stop(
        self,
        status: str,
        verb: str,
        answer: str,
        blocks: list[dict[str, Any]],
        fallback: list[Message],
    ) -> None:
        """Close the plan, add what is left of `answer` and `blocks`, stop the stream; post
        `fallback` instead where Slack would not show it all. The Stop button's message
        goes after: the answer is what people wait for."""
        assert self.ts is not None, "stopped before it started"
        try:
            async with self._slack:  # an append in flight finishes first
                if self._flusher is not None:
                    self._flusher.cancel()  # waiting or sleeping, never mid-call: the lock is ours
                    await asyncio.gather(self._flusher, return_exceptions=True)
                self._finish_open_tasks(status)
                chunks: list[dict[str, str]] = [self._plan_title(verb), *self._take_changes()]
                text = self._rest_of(answer) if answer else ""
                # After a refused append Slack holds part of the text only: the whole answer
                # goes in a message of its own below the stopped stream.
                carried = not (self._broken and answer)
                if carried:
                    chunks += [{"type": "markdown_text", "text": piece} for piece in _pieces(text)]
                else:
                    blocks = []  # the sources and buttons go with the answer below
                try:
                    await self.client.chat_stopStream(
                        channel=self.thread.channel,
                        ts=self.ts,
                        chunks=chunks,
                        blocks=blocks or None,
                    )
                    stopped = True
                except SlackApiError as exc:
                    log.warning("stream stop refused (%s); posting the reply instead", _error(exc))
                    stopped = False
                if stopped and carried:
                    return
                for message in fallback:
                    await self.client.chat_postMessage(
                        channel=self.thread.channel, thread_ts=self.thread.thread_ts, **message
                    )
        finally:
            await self._withdraw_stop()


def _pieces(text: str) -> list[str]:
    return [text[i : i + MARKDOWN_LIMIT] for i in range(0, len(text), MARKDOWN_LIMIT)]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1] + "…"


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") if exc.response is not None else exc)
