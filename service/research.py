"""The agent on an event loop of its own, in a thread of its own.

Research is CPU-hungry between model calls (the `openai` SDK's request building and
parsing, tokenizing, trimming tool results, context selection). On the web server's loop
it would delay Slack's acknowledgements, which must come within 3 s. Here it runs on a
second loop that the web loop only hands questions to, so an ack waits at most for the
interpreter to switch threads, however many answers are being researched.

Everything the agent touches lives on the research loop: its HTTP clients and the
process's one session store. The web loop reaches that store through `LoopStore`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from agent import AgentResult
from agent.events import ProgressCallback, ProgressEvent, emit
from agent.factory import AgentParts, build_agent
from service.loop_store import LoopStore
from service.loops import run_on
from settings import Settings
from stores import SessionStore, open_store

T = TypeVar("T")


class ResearchThread:
    """Runs `Agent.run` for callers on other loops; `run` has `Agent.run`'s signature.

    `store` is the session store for every other loop of the process.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="research", daemon=True)
        self._parts: AgentParts | None = None
        self._store: SessionStore | None = None
        self._proxy: LoopStore | None = None

    @property
    def store(self) -> LoopStore:
        if self._proxy is None:
            raise RuntimeError("the research thread has not started")
        return self._proxy

    @property
    def parts(self) -> AgentParts:
        if self._parts is None:
            raise RuntimeError("the research thread has not started")
        return self._parts

    async def start(self, settings: Settings) -> None:
        """Start the thread, then open the store and build the agent on its loop."""
        self._thread.start()
        try:
            await self._on_research_loop(self._open(settings))
        except BaseException:
            await self.close()
            raise

    async def _open(self, settings: Settings) -> None:
        self._store = await open_store(
            settings.store_url,
            retention_seconds=settings.retention_seconds,
            redis_prefix=settings.dexter_redis_prefix,
            max_sessions=settings.dexter_memory_max_sessions,
            lock_ttl=settings.dexter_lock_ttl,
        )
        self._proxy = LoopStore(self._store, self._loop)
        self._parts = build_agent(settings)
        await self._parts.agent.warm_up()

    async def run(
        self,
        query: str,
        *,
        session_id: str | None = None,
        store: SessionStore | None = None,
        on_progress: ProgressCallback | None = None,
        user: str | None = None,
    ) -> AgentResult:
        """`Agent.run` on the research loop; progress events come back to the caller's loop.

        `store` must be this thread's `store` (or None for a one-shot answer).
        """
        if store is not None and store is not self._proxy:
            raise ValueError("the research thread answers with its own store only")
        caller = asyncio.get_running_loop()

        def forward(event: ProgressEvent) -> None:
            caller.call_soon_threadsafe(lambda: caller.create_task(emit(on_progress, event)))

        return await self._on_research_loop(
            self.parts.agent.run(
                query,
                session_id=session_id,
                store=self._store if store is not None else None,
                on_progress=forward if on_progress is not None else None,
                user=user,
            )
        )

    async def _on_research_loop(self, work: Coroutine[Any, Any, T]) -> T:
        return await run_on(self._loop, work)

    async def close(self) -> None:
        """Stop what still runs there, close the agent's clients and the store, end the thread."""
        if self._thread.is_alive():
            try:
                await self._on_research_loop(self._close())
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
        try:
            if self._parts is not None:
                await self._parts.close()
        finally:
            if self._store is not None:
                await self._store.close()
            await self._loop.shutdown_asyncgens()
            await self._loop.shutdown_default_executor()
