"""What a running Dexter remembers, read through its research service as its front ends do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from agent import ResearchService
from stores import MessageHistory, SessionInfo, SessionStore, open_store

EVERY_TURN = 10_000


class Remembered:
    def __init__(self, research: ResearchService) -> None:
        self.research = research

    async def load(self, session_id: str) -> MessageHistory:
        """Every turn of the session, oldest first."""
        page = await self.research.history(session_id, limit=EVERY_TURN)
        return MessageHistory(session_id, page.turns[::-1])

    async def sessions(self, scope: str) -> list[SessionInfo]:
        return await self.research.threads(scope, 20)


@asynccontextmanager
async def store_beside(url: str, **options: Any) -> AsyncIterator[SessionStore]:
    """A second client of a running Dexter's store (a SQLite file or a server), as another
    process would open it: how a test writes the turns it starts from, or holds a lock."""
    store = await open_store(url, **options)
    try:
        yield store
    finally:
        await store.close()
