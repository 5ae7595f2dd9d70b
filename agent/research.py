"""Dexter's research as one service: the agent and the session store, on a loop of their own.

Research is CPU-hungry between model calls (the `openai` SDK's request building and
parsing, tokenizing, trimming tool results, context selection). On the web server's loop
it would delay Slack's acknowledgements, which must come within 3 s. So the agent and the
store live on a second event loop, in a thread named "research", and every front end (the
Slack bot, the HTTP API, the terminal chat) calls this service from its own loop: each
method runs there and is awaited here, so an ack waits at most for the interpreter to
switch threads, however many answers are being researched.

Store clients (connection pools, aiosqlite's worker thread, asyncio locks) belong to the
loop that opened them, so the one store of the process is opened, used and closed there.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from agent import log_context, metrics
from agent.factory import AgentParts
from agent.orchestrator import AgentResult
from agent.progress import ProgressCallback, ProgressEvent, emit
from stores import HistoryPage, PendingQuestion, SessionInfo, SessionStore, StoreUnavailable
from stores.models import Rating

T = TypeVar("T")

StoreOpener = Callable[[], Awaitable[SessionStore]]
AgentBuilder = Callable[[], AgentParts]


class NotStarted(RuntimeError):
    """The service was used before `start` (or after `close`)."""


class ResearchService:
    """Answers questions in sessions and shows and erases their history, for any loop.

    `build_agent` and `open_store` run on the research loop when the service starts, so
    everything they create belongs to it.
    """

    def __init__(self, build_agent: AgentBuilder, open_store: StoreOpener) -> None:
        self._build_agent = build_agent
        self._open_store = open_store
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="research", daemon=True)
        self._parts: AgentParts | None = None
        self._store: SessionStore | None = None

    @property
    def store_url(self) -> str:
        """The store's URL, its password hidden."""
        return self._opened()[1].url

    async def start(self) -> None:
        """Start the research thread, then open the store and build the agent there."""
        self._thread.start()
        try:
            await self._there(self._open())
        except BaseException:
            await self.close()
            raise

    async def _open(self) -> None:
        self._store = await self._open_store()
        self._parts = self._build_agent()
        await self._parts.agent.warm_up()

    async def answer(
        self,
        question: str,
        *,
        session_id: str | None = None,
        user: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AgentResult:
        """Research `question` in the session (one at a time per session, its turn stored
        when done), or one-shot without a session.

        Progress events reach `on_progress` on the caller's loop, in the order the agent
        emitted them, all of them before this returns or raises.
        """
        parts, store = self._opened()
        caller = asyncio.get_running_loop()
        events: asyncio.Queue[ProgressEvent | None] = asyncio.Queue()

        def forward(event: ProgressEvent) -> None:  # on the research loop
            metrics.record_progress(event)
            if on_progress is not None:
                caller.call_soon_threadsafe(events.put_nowait, event)

        async def deliver() -> None:  # on the caller's loop
            while (event := await events.get()) is not None:
                await emit(on_progress, event)

        delivery = asyncio.create_task(deliver(), name="deliver progress")
        try:
            result = await self._there(
                parts.agent.run(
                    question, session_id=session_id, store=store, on_progress=forward, user=user
                )
            )
        except Exception as exc:
            metrics.record_failure(exc)
            raise
        else:
            metrics.record_answer(result)
            return result
        finally:
            # every event was queued before the run's end reached this loop
            events.put_nowait(None)
            await asyncio.shield(delivery)

    async def history(
        self, session_id: str, *, limit: int, before: int | None = None
    ) -> HistoryPage:
        """Up to `limit` turns with a seq below `before` (the newest without it), newest
        first, and how many the session holds."""
        store = self._opened()[1]
        return await self._there(store.page(session_id, limit=limit, before=before))

    async def erase(self, session_id: str) -> int:
        """Delete the session's turns under its lock, the one erase path of every front end:
        an answer in progress finishes first and is erased too, instead of being stored
        into the memory just erased."""
        store = self._opened()[1]

        async def erase_when_free() -> int:
            async with store.lock(session_id):
                return await store.clear(session_id)

        return await self._there(erase_when_free())

    async def threads(self, scope: str, limit: int) -> list[SessionInfo]:
        """The scope's sessions (a Slack channel's threads, say), newest first."""
        store = self._opened()[1]
        return await self._there(store.sessions(scope, limit))

    async def rate(self, session_id: str, seq: int, rating: Rating) -> bool:
        """Record what the asker thought of turn `seq`; false if there is no such turn."""
        store = self._opened()[1]
        return await self._there(store.rate(session_id, seq, rating))

    async def threads_of(self, user: str, limit: int) -> list[SessionInfo]:
        """The sessions `user` asked in, newest first."""
        store = self._opened()[1]
        return await self._there(store.sessions_of(user, limit))

    async def claim(self, key: str, ttl: float) -> bool:
        """True the first time `key` is claimed by any process sharing the store."""
        store = self._opened()[1]
        return await self._there(store.claim_event(key, ttl))

    async def hold(self, question: PendingQuestion, ttl: float) -> bool:
        """Claim the message (false if some process already has) and keep it in the shared
        store until `settle`, so that it outlives this process (`stores.base.Inbox`)."""
        store = self._opened()[1]
        return await self._there(store.inbox.hold(question, ttl))

    async def waiting(self, session_id: str) -> list[PendingQuestion]:
        """The session's questions not yet settled, in Slack's order, whoever holds them."""
        store = self._opened()[1]
        return await self._there(store.inbox.waiting(session_id))

    async def settle(self, session_id: str, key: str) -> None:
        store = self._opened()[1]
        await self._there(store.inbox.settle(session_id, key))

    async def beat(self, owner: str, ttl: float) -> None:
        """Keep `owner`'s held questions its own for `ttl` seconds more."""
        store = self._opened()[1]
        await self._there(store.inbox.beat(owner, ttl))

    async def adopt(self, owner: str, limit: int) -> list[PendingQuestion]:
        """Make up to `limit` questions of processes that stopped beating `owner`'s."""
        store = self._opened()[1]
        return await self._there(store.inbox.adopt(owner, limit))

    async def claimed(self, key: str) -> bool:
        """Whether `key` is claimed now; claims nothing."""
        store = self._opened()[1]
        return await self._there(store.claimed(key))

    async def purge_expired(self) -> int:
        store = self._opened()[1]
        return await self._there(store.purge_expired())

    async def ping(self) -> None:
        """Raises `StoreUnavailable` when the store's server cannot be reached."""
        store = self._opened()[1]
        await self._there(store.ping())

    async def close(self) -> None:
        """Stop what still runs there, close the agent's clients and the store, end the thread."""
        if self._thread.is_alive():
            try:
                await self._there(self._close())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                await asyncio.to_thread(self._thread.join, 10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close(self) -> None:
        """On the research loop: cancel leftover tasks first, so nothing outlives its store."""
        leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        parts, store, self._parts, self._store = self._parts, self._store, None, None
        try:
            if parts is not None:
                await parts.close()
        finally:
            if store is not None:
                await store.close()
            await self._loop.shutdown_asyncgens()
            await self._loop.shutdown_default_executor()

    def _opened(self) -> tuple[AgentParts, SessionStore]:
        if self._parts is None or self._store is None:
            raise NotStarted("the research service is not running")
        return self._parts, self._store

    async def _there(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the research loop and await it here; cancelling the wait cancels it.
        Its log lines are about what the caller's are (`agent.log_context`)."""
        labels = log_context.current()

        async def labelled() -> T:
            log_context.restore(labels)
            return await work

        try:
            return await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(labelled(), self._loop)
            )
        except StoreUnavailable:
            metrics.STORE_ERRORS.labels(getattr(work, "__name__", "store")).inc()
            raise
