"""Answering questions in threads: deduplicated, one at a time per thread, in order.

Bolt acknowledges Slack at once; the listener claims the message (`claim`, so a retry or
the mention/message double delivery is dropped) and queues it (`enqueue`). Each thread
with queued questions gets one worker task that answers them in arrival order, so a
second question waits for (and sees) the first answer. Workers are plain asyncio tasks,
one per busy thread, so long runs never starve new threads.
Whatever fails, the thread hears back: an apology with a reference id and a retry button.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from dataclasses import dataclass

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent import AgentError, ModelError, ResearchService, RunTimeout, log_context
from bot.blocks import Message, answer_messages, error_blocks, message_payload, retry_actions
from bot.metrics import DEDUPE_HITS, QUESTIONS_WAITING
from bot.questions import Question
from bot.status_message import StatusUpdater, ThreadProgress
from stores import StoreUnavailable

log = logging.getLogger(__name__)

RESTARTED = "Sorry, Dexter restarted before it could answer this. Please try again."


@dataclass(frozen=True, slots=True)
class AnsweringConfig:
    progress_interval: float
    dedupe_ttl: float = 3600.0
    recent_events: int = 10_000


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
        self._queues: dict[str, deque[Question]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        # Slack delivers one mention as `app_mention` and `message` within milliseconds;
        # the second is dropped here without a store write, also while the store is down.
        self._seen: TTLCache[str, bool] = TTLCache(
            maxsize=self.config.recent_events, ttl=self.config.dedupe_ttl
        )
        QUESTIONS_WAITING.set_function(lambda: sum(len(q) for q in self._queues.values()))

    def is_answering(self, session_id: str) -> bool:
        """Whether this process has questions of the thread queued or in progress."""
        return session_id in self._queues

    async def claim(self, question: Question) -> bool:
        """True the first time this Slack message is seen, whichever event or retry brings it."""
        return await self.claim_key(question.event_key)

    async def claim_key(self, key: str) -> bool:
        """True the first time `key` is claimed, in this process or any sharing the store."""
        if self._seen.get(key):
            log.info("skipping %s: already taken here", key)
            DEDUPE_HITS.labels("here").inc()
            return False
        self._seen[key] = True
        try:
            first = await self.research.claim(key, self.config.dedupe_ttl)
        except StoreUnavailable as exc:
            log.warning("cannot deduplicate %s across processes, going ahead: %s", key, exc)
            first = True
        if not first:
            log.info("skipping %s: already taken", key)
            DEDUPE_HITS.labels("store").inc()
        return first

    def enqueue(self, question: Question) -> None:
        """Queue `question` behind its thread's earlier ones, starting a worker if idle."""
        session_id = question.thread.session_id
        queue = self._queues.get(session_id)
        if queue is not None:
            queue.append(question)
            return
        self._queues[session_id] = deque([question])
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
                await self.answer(queue[0])
                queue.popleft()
        except asyncio.CancelledError:
            # The question in progress has replaced its own status with the notice.
            await asyncio.shield(self._ask_to_retry(list(queue)[1:]))
            raise
        finally:
            del self._queues[session_id]

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

    async def answer(self, question: Question) -> None:
        """Research `question` with progress in its thread; never raises."""
        log_context.about(question.thread.session_id, question.event_key)
        progress = ThreadProgress(
            self.client,
            self.updater,
            question.thread,
            question.text,
            interval=self.config.progress_interval,
            assistant_thread=question.is_dm,
        )
        try:
            await progress.start()
            result = await self.research.answer(
                question.text,
                session_id=question.thread.session_id,
                user=question.user,
                on_progress=progress.on_event,
            )
            await progress.finish(answer_messages(result.answer, result.sources))
            log.info(
                "answered %s in %.2f s, %d tokens, phases %s",
                question.thread.session_id,
                result.seconds,
                result.total_tokens,
                result.timings,
            )
        except asyncio.CancelledError:  # shutting down: the status must not stay "Researching"
            await asyncio.shield(self._stopped(question, progress))
            raise
        except Exception as exc:  # the thread must hear back whatever went wrong
            await self._apologise(question, progress, exc)

    async def _stopped(self, question: Question, progress: ThreadProgress) -> None:
        """Put the restart notice with Try again where the answer was being prepared."""
        reference = secrets.token_hex(4)
        log.warning("shutting down while answering %s [ref %s]", question.event_key, reference)
        await _replace_status(progress, _try_again(RESTARTED, reference, question), reference)

    async def _apologise(
        self, question: Question, progress: ThreadProgress, exc: Exception
    ) -> None:
        reference = secrets.token_hex(4)
        if isinstance(exc, AgentError | StoreUnavailable | SlackApiError):
            log.error(
                "answer failed [ref %s] in %s: %s", reference, question.thread.session_id, exc
            )
        else:
            log.exception("answer failed [ref %s] in %s", reference, question.thread.session_id)
        await _replace_status(progress, _try_again(apology(exc), reference, question), reference)


def _try_again(text: str, reference: str, question: Question) -> Message:
    """`text` with its reference id and a Try again button for `question`, as one message."""
    return message_payload([*error_blocks(text, reference), retry_actions(question.ts)])


async def _replace_status(progress: ThreadProgress, message: Message, reference: str) -> None:
    """Put `message` where the status was; if Slack refuses, the log keeps the reference."""
    try:
        await progress.finish([message])
    except Exception:
        log.exception("could not tell the thread about ref %s", reference)


def apology(exc: Exception) -> str:
    """What the person is told; details stay in the log under the reference id."""
    if isinstance(exc, RunTimeout):
        return "Sorry, this research took too long and I stopped it. Try a narrower question."
    if isinstance(exc, ModelError):
        return f"Sorry, {exc.advice}"
    if isinstance(exc, StoreUnavailable):
        return "Sorry, I couldn't open this thread's memory just now. Please try again shortly."
    if isinstance(exc, SlackApiError):
        return "Sorry, Slack refused part of my answer. Please try again."
    return "Sorry, something went wrong while researching that. Please try again."
