"""A session store that lives on another event loop, usable from this one.

Store clients (connection pools, aiosqlite's worker thread, asyncio locks) belong to the
loop that opened them. The research thread owns the one store of the process; the web
loop reaches it through this proxy, so SQLite keeps a single writer and Redis and
PostgreSQL a single pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from service.loops import run_on
from stores import MessageHistory, SessionInfo, SessionStore, Turn

T = TypeVar("T")


class LoopStore:
    """`store`'s methods, each run on `loop` (the store's own) and awaited from the caller's."""

    def __init__(self, store: SessionStore, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.url = store.url
        self._loop = loop

    async def _on_store_loop(self, work: Coroutine[Any, Any, T]) -> T:
        return await run_on(self._loop, work)

    async def load(self, session_id: str, limit: int | None = None) -> MessageHistory:
        return await self._on_store_loop(self.store.load(session_id, limit))

    async def append(self, session_id: str, turn: Turn) -> Turn:
        return await self._on_store_loop(self.store.append(session_id, turn))

    async def clear(self, session_id: str) -> int:
        return await self._on_store_loop(self.store.clear(session_id))

    async def sessions(self, scope: str, limit: int = 20) -> list[SessionInfo]:
        return await self._on_store_loop(self.store.sessions(scope, limit))

    async def claim_event(self, event_id: str, ttl: float) -> bool:
        return await self._on_store_loop(self.store.claim_event(event_id, ttl))

    async def purge_expired(self) -> int:
        return await self._on_store_loop(self.store.purge_expired())

    async def ping(self) -> None:
        await self._on_store_loop(self.store.ping())

    async def close(self) -> None:
        """The store's owner closes it; the proxy holds nothing of its own."""

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        """Holds the store's lock on its loop until the caller's block ends.

        A holder task on the store's loop takes the lock and waits for the release; if
        taking it fails, that error is raised here.
        """
        held: concurrent.futures.Future[asyncio.Event] = concurrent.futures.Future()

        async def hold() -> None:
            release = asyncio.Event()
            async with self.store.lock(session_id):
                held.set_result(release)
                await release.wait()

        def failed_to_take(holder: concurrent.futures.Future[None]) -> None:
            if held.done():
                return
            if holder.cancelled():
                held.cancel()
            else:
                held.set_exception(holder.exception() or RuntimeError("lock holder ended"))

        holder = asyncio.run_coroutine_threadsafe(hold(), self._loop)
        holder.add_done_callback(failed_to_take)
        try:
            release = await asyncio.wrap_future(held)
        except BaseException:
            holder.cancel()
            raise
        try:
            yield
        finally:
            self._loop.call_soon_threadsafe(release.set)
            await asyncio.wrap_future(holder)
