"""The agent on an event loop of its own, in a thread of its own.

Research is CPU-hungry between model calls (the `openai` SDK's request building and
parsing, tokenizing, trimming tool results, context selection). On the web server's loop
it would delay Slack's acknowledgements, which must come within 3 s. Here it runs on a
second loop that the web loop only hands questions to, so an ack waits at most for the
interpreter to switch threads, however many answers are being researched.

Everything the agent touches (its HTTP clients, its store connections) lives on the
research loop: it gets a store of its own on the same URL, except `memory://`, which is
one in-process object both loops share (only the research loop takes its locks).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from agent import AgentResult
from agent.events import ProgressCallback, ProgressEvent, emit
from agent.factory import AgentParts, build_agent
from settings import Settings
from stores import SessionStore, open_store

T = TypeVar("T")


class ResearchThread:
    """Runs `Agent.run` for callers on other loops; `run` has `Agent.run`'s signature."""

    def __init__(self, main_store: SessionStore) -> None:
        self.main_store = main_store
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="research", daemon=True)
        self._parts: AgentParts | None = None
        self._store: SessionStore | None = None

    @property
    def parts(self) -> AgentParts:
        if self._parts is None:
            raise RuntimeError("the research thread has not started")
        return self._parts

    async def start(self, settings: Settings) -> None:
        """Start the thread, then build the agent and open the store on its loop."""
        self._thread.start()
        try:
            await self._on_research_loop(self._open(settings))
        except BaseException:
            await self.close()
            raise

    async def _open(self, settings: Settings) -> None:
        if settings.store_url.startswith("memory:"):
            self._store = self.main_store
        else:
            self._store = await open_store(
                settings.store_url,
                retention_seconds=settings.retention_seconds,
                redis_prefix=settings.dexter_redis_prefix,
                max_sessions=settings.dexter_memory_max_sessions,
                lock_ttl=settings.dexter_lock_ttl,
            )
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

        `store` must be the main store (or None): the run uses its research-loop twin.
        """
        if store is not None and store is not self.main_store:
            raise ValueError("the research thread serves the runtime's own store only")
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
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def close(self) -> None:
        """Close the agent's clients and the research store, then stop the thread."""
        if self._thread.is_alive():
            await self._on_research_loop(self._close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10)
        self._loop.close()

    async def _close(self) -> None:
        if self._parts is not None:
            await self._parts.close()
        if self._store is not None and self._store is not self.main_store:
            await self._store.close()
