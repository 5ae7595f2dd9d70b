"""Answering questions in threads: exactly once, one at a time per thread, in Slack's order.

Before Slack is acknowledged, the listener `take`s the message: claimed (so a retry or the
mention/message double delivery is dropped) and held in the shared store's inbox under
this process's name. Then it is queued (`enqueue`). Each thread with queued questions gets
one worker task that answers them in Slack's order; before each, it waits while an older
question of the thread, held by another process, is unanswered, so a thread's questions
are answered in order whichever instance received them. Workers are plain asyncio tasks,
one per busy thread, so long runs never starve new threads.

While this process lives it beats in the inbox; when it stops beating (killed, out of
memory, its machine gone), another process adopts its unanswered questions and answers
them, or this one does after a restart under its new name. A question leaves the inbox
once its thread has the reply. Whatever fails, the thread hears back: an apology with a
reference id and a retry button.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent import AgentError, AgentResult, ModelError, ResearchService, RunTimeout, log_context
from agent.progress import PhaseStarted, ProgressEvent
from agent.series import Series
from bot.answer_stream import StreamedAnswer
from bot.assistant_threads import AssistantThreads
from bot.blocks import (
    Message,
    error_blocks,
    message_payload,
    retry_actions,
    stopped_blocks,
)
from bot.charts import post_chart
from bot.metrics import DEDUPE_HITS, QUESTIONS_WAITING
from bot.questions import Question
from bot.rate_budget import RateBudget
from bot.status_message import StatusUpdater, ThreadProgress
from stores import PendingQuestion, Source, StoreBusy, StoreUnavailable

log = logging.getLogger(__name__)

RESTARTED = "Sorry, Dexter restarted before it could answer this. Please try again."
STREAMING_UNAVAILABLE = frozenset(
    {"unknown_method", "not_allowed_token_type", "missing_scope", "feature_not_enabled"}
)
"""`chat.startStream` errors that mean streams will not work for this app at all."""
APPENDS_PER_MINUTE = 100
"""`chat.appendStream` is Tier 4: 100+ a minute per workspace, shared by every stream."""
APPEND_BURST = 20


class AnswerView(Protocol):
    """How an answer in progress shows in its thread: streamed, or a status message."""

    async def on_event(self, event: ProgressEvent) -> None: ...

    async def answered(
        self, answer: str, sources: Sequence[Source], rated: tuple[str, int] | None
    ) -> None: ...

    async def failed(self, message: Message) -> None: ...


@dataclass(frozen=True, slots=True)
class AnsweringConfig:
    progress_interval: float
    lease: float
    """Seconds after this process's last beat before others adopt its questions."""
    streaming: bool
    charts: bool
    thread_memory: float
    """Seconds a thread where Dexter only apologised still counts as Dexter's thread."""
    dedupe_ttl: float = 3600.0
    recent_events: int = 10_000
    turn_poll: float = 0.25
    """Seconds between looks at the inbox while an older question of the thread is answered
    by another process."""
    wait_notice: float = 1.0
    """A wait for the turn longer than this is shown as the `waiting` phase."""
    adopt_batch: int = 50


def owner_name() -> str:
    """This process's name in the inbox: readable in logs, new at every start."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class ThreadAnswerer:
    """Turns questions into answers in their threads; one instance per app."""

    def __init__(
        self,
        research: ResearchService,
        client: AsyncWebClient,
        updater: StatusUpdater,
        config: AnsweringConfig,
    ) -> None:
        self.research = research
        self.client = client
        self.updater = updater
        self.config = config
        self.owner = owner_name()
        self._queues: dict[str, list[Question]] = {}
        self._arriving: dict[str, dict[str, tuple[int, int]]] = {}
        """Per thread, the questions taken here whose listener has not queued them yet, by
        key: Bolt runs listeners after the ack, in no set order, so a later question of the
        thread can reach the queue first."""
        self._workers: set[asyncio.Task[None]] = set()
        self._beating: asyncio.Task[None] | None = None
        self._streaming_refused: str | None = None
        self.append_budget = RateBudget(APPENDS_PER_MINUTE / 60, burst=APPEND_BURST)
        self._answering: set[str] = set()
        self._researching: dict[str, asyncio.Task[AgentResult]] = {}
        self._stop_requests: dict[str, str] = {}
        self.assistant = AssistantThreads(client)
        self._unsettled: dict[str, str] = {}
        """Answered questions whose `settle` met a store outage: key → session id."""
        # Slack delivers one mention as `app_mention` and `message` within milliseconds;
        # the second is dropped here without a store write, also while the store is down.
        self._seen: TTLCache[str, bool] = TTLCache(
            maxsize=self.config.recent_events, ttl=self.config.dedupe_ttl
        )
        QUESTIONS_WAITING.set_function(lambda: sum(len(q) for q in self._queues.values()))

    def stop(self, key: str, by: str) -> bool:
        """Cancel the answer to question `key` (its Stop button); False if it is not being
        researched (any more)."""
        if key not in self._answering:
            return False
        log.info("%s stopped the answer to %s", by, key)
        self._stop_requests[key] = by
        research = self._researching.get(key)
        if research is not None:
            research.cancel()
        return True

    def is_answering(self, session_id: str) -> bool:
        """Whether this process has questions of the thread queued or in progress."""
        return session_id in self._queues

    async def start(self) -> None:
        """Beat in the inbox from now on, adopting the questions of processes that stopped."""
        await self._beat_and_adopt()
        self._beating = asyncio.create_task(self._keep_beating(), name="inbox beat")

    async def take(self, question: Question, *, to_answer: bool) -> bool:
        """True the first time this Slack message is seen, whichever event or retry brings
        it, in this process or any sharing the store. A question `to_answer` is also held
        in the inbox until its thread has the reply."""
        first = await self._first(
            question.event_key, self._pending(question) if to_answer else None
        )
        if first and to_answer:
            arriving = self._arriving.setdefault(question.thread.session_id, {})
            arriving[question.event_key] = question.order
        return first

    async def claim_key(self, key: str) -> bool:
        """True the first time `key` (a button press, say) is claimed by any process."""
        return await self._first(key, None)

    async def _first(self, key: str, held: PendingQuestion | None) -> bool:
        if self._seen.get(key):
            log.info("skipping %s: already taken here", key)
            DEDUPE_HITS.labels("here").inc()
            return False
        self._seen[key] = True
        try:
            first = await self._claim_when_reachable(key, held)
        except StoreUnavailable as exc:
            # Going ahead can answer a message twice if Slack retries it to another instance
            # during the outage; dropping it would answer it never. Slack retries only when
            # the ack is late, so twice stays rare; never is what the person would see.
            log.warning("cannot deduplicate %s across processes, going ahead: %s", key, exc)
            first = True
        if not first:
            log.info("skipping %s: already taken", key)
            DEDUPE_HITS.labels("store").inc()
        return first

    async def _claim_when_reachable(self, key: str, held: PendingQuestion | None) -> bool:
        """Claim (and hold); if this process was too busy to get a connection, once more:
        the store is up, and going ahead on local memory would answer twice whenever
        another instance, or a Slack retry, claims the same message meanwhile."""
        try:
            return await self._claim(key, held)
        except StoreBusy as exc:
            log.warning("claiming %s: %s; trying once more", key, exc)
        return await self._claim(key, held)

    async def _claim(self, key: str, held: PendingQuestion | None) -> bool:
        if held is not None:
            return await self.research.hold(held, self.config.dedupe_ttl)
        return await self.research.claim(key, self.config.dedupe_ttl)

    async def replied_in(self, session_id: str) -> bool:
        """Whether Dexter is answering in the thread, in any process, or told it something
        that left no turn (an apology, a stop): follow-ups there are Dexter's to answer."""
        if await self.research.waiting(session_id):
            return True
        return await self.research.claimed(_replied_key(session_id))

    async def _note_reply_without_turn(self, question: Question) -> None:
        try:
            await self.research.claim(
                _replied_key(question.thread.session_id), self.config.thread_memory
            )
        except StoreUnavailable as exc:
            log.warning(
                "cannot note that Dexter replied in %s: %s", question.thread.session_id, exc
            )

    def enqueue(self, question: Question) -> None:
        """Queue `question` among its thread's others in Slack's order, starting a worker
        if the thread has none."""
        session_id = question.thread.session_id
        arriving = self._arriving.get(session_id, {})
        arriving.pop(question.event_key, None)
        if not arriving:
            self._arriving.pop(session_id, None)
        queue = self._queues.get(session_id)
        if queue is not None:
            # after the one being answered, before the first that Slack sent later
            later = (i for i, queued in enumerate(queue[1:], 1) if queued.order > question.order)
            queue.insert(next(later, len(queue)), question)
            return
        self._queues[session_id] = [question]
        worker = asyncio.create_task(self._work(session_id), name=f"answer {session_id}")
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def drain(self) -> None:
        """Wait for every queued answer."""
        while self._workers:
            await asyncio.gather(*list(self._workers), return_exceptions=True)

    async def close(self, grace: float) -> None:
        """On shutdown: let answers finish for `grace` seconds, then stop the rest, whose
        threads are told to try again (Slack will not redeliver a claimed message)."""
        if self._beating is not None:
            self._beating.cancel()
            await asyncio.gather(self._beating, return_exceptions=True)
        if not self._workers:
            return
        _, unfinished = await asyncio.wait(set(self._workers), timeout=grace)
        for worker in unfinished:
            worker.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    async def _work(self, session_id: str) -> None:
        queue = self._queues[session_id]
        try:
            while queue:
                await self._until_older_arrive(session_id, queue[0])
                queue.sort(key=lambda queued: queued.order)  # nothing is in progress yet
                question = queue[0]
                await self.answer(question)
                queue.remove(question)
        except asyncio.CancelledError:
            # The question in progress has replaced its own status with the notice.
            await asyncio.shield(self._ask_to_retry(list(queue)[1:]))
            raise
        finally:
            del self._queues[session_id]

    async def _until_older_arrive(self, session_id: str, question: Question) -> None:
        """Wait while an older question of the thread, taken here, has not reached the
        queue (its listener runs a moment after the ack); at most a lease, so a listener
        that failed cannot hold the thread up for good."""
        waited = 0.0
        while waited < self.config.lease and any(
            order < question.order for order in self._arriving.get(session_id, {}).values()
        ):
            await asyncio.sleep(self.config.turn_poll)
            waited += self.config.turn_poll

    async def _ask_to_retry(self, questions: list[Question]) -> None:
        for question in questions:
            reference = secrets.token_hex(4)
            log.warning("shutting down before answering %s [ref %s]", question.event_key, reference)
            try:
                await self.client.chat_postMessage(
                    channel=question.thread.channel,
                    thread_ts=question.thread.thread_ts,
                    **_try_again(RESTARTED, reference, question),
                )
            except Exception:
                log.exception("could not tell the thread about ref %s", reference)
            await self._settle(question)

    async def answer(self, question: Question) -> None:
        """Research `question` with progress in its thread; never raises."""
        log_context.about(question.thread.session_id, question.event_key)
        status = ThreadProgress(
            self.client,
            self.updater,
            question.thread,
            question.text,
            interval=self.config.progress_interval,
            assistant_thread=question.is_dm,
            stop_key=question.event_key,
        )
        progress: AnswerView = status
        chart: Series | None = None
        try:
            self._answering.add(question.event_key)
            progress = await self._show_progress(question, status)
            await self._wait_for_turn(question, progress)
            if question.event_key in self._stop_requests:
                raise asyncio.CancelledError  # stopped before its research began
            research = asyncio.create_task(
                self.research.answer(
                    question.text,
                    session_id=question.thread.session_id,
                    user=question.user,
                    on_progress=progress.on_event,
                )
            )
            self._researching[question.event_key] = research
            try:
                result = await research
            finally:
                del self._researching[question.event_key]
                self._answering.discard(question.event_key)  # too late to stop it now
            rated = None if result.turn is None else (question.thread.session_id, result.turn.seq)
            await progress.answered(result.answer, result.sources, rated)
            if self.config.charts and result.series is not None:
                chart = result.series
            if question.is_dm:
                first = result.turn is None or result.turn.seq == 1
                await self.assistant.answered(
                    question.thread, result.understanding, question.text, first=first
                )
            log.info(
                "answered %s in %.2f s, %d tokens, phases %s",
                question.thread.session_id,
                result.seconds,
                result.total_tokens,
                result.timings,
            )
        except asyncio.CancelledError:
            if self._stop_requests.pop(question.event_key, None) is None:
                # shutting down: the status must not stay "Researching"
                await asyncio.shield(self._stopped(question, progress))
                raise
            stopped = message_payload(stopped_blocks(question.ts))
            await _replace_status(progress, stopped, question.event_key)
            await self._note_reply_without_turn(question)
        except Exception as exc:  # the thread must hear back whatever went wrong
            await self._apologise(question, progress, exc)
            await self._note_reply_without_turn(question)
        finally:
            self._answering.discard(question.event_key)
            self._stop_requests.pop(question.event_key, None)
        await self._settle(question)
        if chart is not None:  # the answer is in and settled; the chart is a bonus
            await post_chart(self.client, question.thread, chart)

    async def _show_progress(self, question: Question, fallback: ThreadProgress) -> AnswerView:
        """The answer streamed with its plan where Slack allows it, else the status message."""
        if self.config.streaming and self._streaming_refused is None:
            stream = StreamedAnswer(
                self.client,
                question.thread,
                user=question.user,
                question=question.text,
                interval=self.config.progress_interval,
                budget=self.append_budget,
                stop_key=question.event_key,
            )
            try:
                await stream.start()
                return stream
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error in STREAMING_UNAVAILABLE:
                    self._streaming_refused = error
                    log.warning(
                        "Slack refuses chat streaming (%s): status messages from now on", error
                    )
                else:
                    log.warning("could not start a stream (%s): a status message this time", error)
        await fallback.start()
        return fallback

    async def _wait_for_turn(self, question: Question, progress: AnswerView) -> None:
        """Wait while an older question of the thread, held by another process, has no
        answer yet: its answer belongs before this one, and in this one's context."""
        session_id = question.thread.session_id
        waited = 0.0
        while True:
            try:
                held = await self.research.waiting(session_id)
            except StoreUnavailable:
                return  # the answer meets the outage too, and says so
            if not any(q.order < question.order and q.owner != self.owner for q in held):
                return
            if waited < self.config.wait_notice <= waited + self.config.turn_poll:
                await progress.on_event(PhaseStarted(phase="waiting"))
            await asyncio.sleep(self.config.turn_poll)
            waited += self.config.turn_poll

    def _pending(self, question: Question) -> PendingQuestion:
        return PendingQuestion(
            key=question.event_key,
            session_id=question.thread.session_id,
            ts=question.ts,
            owner=self.owner,
            payload=question.to_json(),
        )

    async def _settle(self, question: Question) -> None:
        await self._settle_key(question.thread.session_id, question.event_key)

    async def _settle_key(self, session_id: str, key: str) -> None:
        """The thread has its reply: the question leaves the inbox (later, if the store is
        down now; until then no other process adopts it, as this one still beats)."""
        try:
            await asyncio.shield(self.research.settle(session_id, key))
        except StoreUnavailable as exc:
            log.warning("could not settle %s, will retry: %s", key, exc)
            self._unsettled[key] = session_id

    async def _keep_beating(self) -> None:
        while True:
            await asyncio.sleep(self.config.lease / 3)
            await self._beat_and_adopt()

    async def _beat_and_adopt(self) -> None:
        """Beat, settle what an outage left, and answer what stopped processes held."""
        try:
            await self.research.beat(self.owner, self.config.lease)
            for key, session_id in list(self._unsettled.items()):
                await self.research.settle(session_id, key)
                del self._unsettled[key]
            adopted = await self.research.adopt(self.owner, self.config.adopt_batch)
        except StoreUnavailable as exc:
            log.warning("inbox beat missed: %s", exc)
            return
        for pending in sorted(adopted, key=lambda q: q.order):  # each thread's in Slack's order
            try:
                question = Question.from_json(pending.payload)
            except ValueError as exc:
                log.warning("dropping unreadable question %s: %s", pending.key, exc)
                await self._settle_key(pending.session_id, pending.key)
                continue
            log.info("adopted %s from a process that stopped", pending.key)
            self._seen[pending.key] = True
            self.enqueue(question)

    async def _stopped(self, question: Question, progress: AnswerView) -> None:
        """Put the restart notice with Try again where the answer was being prepared."""
        reference = secrets.token_hex(4)
        log.warning("shutting down while answering %s [ref %s]", question.event_key, reference)
        await _replace_status(progress, _try_again(RESTARTED, reference, question), reference)

    async def _apologise(self, question: Question, progress: AnswerView, exc: Exception) -> None:
        reference = secrets.token_hex(4)
        if isinstance(exc, AgentError | StoreUnavailable | SlackApiError):
            log.error(
                "answer failed [ref %s] in %s: %s", reference, question.thread.session_id, exc
            )
        else:
            log.exception("answer failed [ref %s] in %s", reference, question.thread.session_id)
        await _replace_status(progress, _try_again(apology(exc), reference, question), reference)


def _replied_key(session_id: str) -> str:
    return f"dexter-replied:{session_id}"


def _try_again(text: str, reference: str, question: Question) -> Message:
    """`text` with its reference id and a Try again button for `question`, as one message."""
    return message_payload([*error_blocks(text, reference), retry_actions(question.ts)])


async def _replace_status(progress: AnswerView, message: Message, reference: str) -> None:
    """Put `message` where the status was; if Slack refuses, the log keeps the reference."""
    try:
        await progress.failed(message)
    except Exception:
        log.exception("could not tell the thread about ref %s", reference)


def apology(exc: Exception) -> str:
    """What the person is told; details stay in the log under the reference id."""
    if isinstance(exc, RunTimeout | ModelError):
        return f"Sorry, {exc.advice}"
    if isinstance(exc, StoreUnavailable):
        return "Sorry, I couldn't open this thread's memory just now. Please try again shortly."
    if isinstance(exc, SlackApiError):
        return "Sorry, Slack refused part of my answer. Please try again."
    return "Sorry, something went wrong while researching that. Please try again."
