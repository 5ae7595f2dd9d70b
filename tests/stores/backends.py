"""What the contract tests need of each backend beyond the `SessionStore` API: a URL, a way
to open stores on it, and raw access to plant a corrupt turn and to look for leftovers."""

from __future__ import annotations

import uuid
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from stores import SessionStore, open_store, scope_of
from stores.redis_keys import RedisKeys
from stores.sql_engine import create_store_engine
from stores.sql_schema import (
    ClaimedEvent,
    InboxOwner,
    PendingQuestionRow,
    SessionLock,
    SessionRow,
    TurnRow,
)
from tests.external_servers import postgres_url

BACKENDS = ("memory", "sqlite", "redis", "redis-cluster", "postgres")
SHARED_BACKENDS = ("sqlite", "redis", "redis-cluster", "postgres")
"""Backends whose data separate processes share."""
SERVER_BACKENDS = ("redis", "redis-cluster", "postgres")
"""Backends whose locks hold across processes."""

GARBAGE = b"\x07 this is not a turn \xff"


def schema_url(schema: str) -> str:
    """The test PostgreSQL database, with the store's tables in `schema`."""
    return f"{postgres_url()}?search_path={schema}"


class Backend:
    """One backend under test; every store it opens is closed at the end of the test."""

    name = ""
    cross_process = False
    """Whether separate processes share this backend's data (and so its locks and counters)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._stores: list[SessionStore] = []

    def options(self, **overrides: Any) -> dict[str, Any]:
        """`open_store` options for this backend, `overrides` on top."""
        return overrides

    async def open(self, **overrides: Any) -> SessionStore:
        store = await open_store(self.url, **self.options(**overrides))
        self._stores.append(store)
        return store

    async def store_corrupt_turn(self, session_id: str) -> None:
        """Append a turn that cannot be decoded, behind the store's back."""
        raise NotImplementedError(f"{self.name} keeps turns as objects: no bytes to corrupt")

    async def traces(self, store: SessionStore, session_id: str) -> list[str]:
        """Everything the backend still holds of the session, described for a failure message."""
        traces = []
        if await store.load(session_id):
            traces.append("turns")
        listed = await store.sessions(scope_of(session_id), limit=1000)
        if any(info.session_id == session_id for info in listed):
            traces.append("listing")
        return traces

    async def close(self) -> None:
        for store in self._stores:
            await store.close()


class MemoryBackend(Backend):
    name = "memory"


class RedisBackend(Backend):
    name = "redis"
    cross_process = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.prefix = f"dexter-test-{uuid.uuid4().hex[:12]}"
        self.key_names = RedisKeys(self.prefix, cluster=self.name == "redis-cluster")
        self.raw = self.connect(url)

    def connect(self, url: str) -> Redis | RedisCluster:
        """A client of redis-py's own, to read and write behind the store's back."""
        return Redis.from_url(url)

    def options(self, **overrides: Any) -> dict[str, Any]:
        return {"redis_prefix": self.prefix, **overrides}

    async def keys(self) -> list[str]:
        return [key.decode() async for key in self.raw.scan_iter(match=f"{self.prefix}:*")]

    async def store_corrupt_turn(self, session_id: str) -> None:
        await self.raw.rpush(self.key_names.turns(session_id), GARBAGE)

    async def traces(self, store: SessionStore, session_id: str) -> list[str]:
        own_key_ends = (f":{session_id}", f":{{{session_id}}}")  # untagged, hash-tagged
        traces = [key for key in await self.keys() if key.endswith(own_key_ends)]
        for key in await self.keys():
            if await self.raw.type(key) == b"zset" and await self.raw.zscore(key, session_id):
                traces.append(f"{key} lists it")
        return traces

    async def close(self) -> None:
        await super().close()
        for key in await self.keys():  # one by one: on a cluster they are in many slots
            await self.raw.unlink(key)
        await self.raw.aclose()


class RedisClusterBackend(RedisBackend):
    """The Redis store on a Redis Cluster (`redis+cluster://`), read raw with redis-py's own
    cluster client, whose SCAN visits every master."""

    name = "redis-cluster"

    def connect(self, url: str) -> Redis | RedisCluster:
        return RedisCluster.from_url(url.replace("redis+cluster://", "redis://", 1))


class SQLBackend(Backend):
    cross_process = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.raw: AsyncEngine = create_store_engine(url)

    async def store_corrupt_turn(self, session_id: str) -> None:
        async with self.raw.begin() as conn:
            seq = await conn.scalar(
                update(SessionRow)
                .where(SessionRow.id == session_id)
                .values(turn_count=SessionRow.turn_count + 1)
                .returning(SessionRow.turn_count)
            )
            await conn.execute(
                insert(TurnRow).values(
                    session_id=session_id,
                    seq=seq,
                    created_at=func.now(),
                    question="q",
                    answer="a",
                    summary="",
                    embedding=b"\x00\x01\x02",
                    question_tokens=0,
                    answer_tokens=0,
                    summary_tokens=0,
                    sources="{not json",
                )
            )

    async def traces(self, store: SessionStore, session_id: str) -> list[str]:
        async with self.raw.connect() as conn:
            turns = await conn.scalar(
                select(func.count()).select_from(TurnRow).where(TurnRow.session_id == session_id)
            )
            sessions = await conn.scalar(
                select(func.count()).select_from(SessionRow).where(SessionRow.id == session_id)
            )
            leases = await conn.scalar(
                select(func.count())
                .select_from(SessionLock)
                .where(SessionLock.session_id == session_id)
            )
        counts = {"turn": turns, "session": sessions, "lock lease": leases}
        return [f"{count} {kind} rows" for kind, count in counts.items() if count]

    async def close(self) -> None:
        await super().close()
        await self.raw.dispose()


class SQLiteBackend(SQLBackend):
    name = "sqlite"


class PostgresBackend(SQLBackend):
    name = "postgres"

    async def close(self) -> None:
        """Empty the tables: the schema is shared by every test of the run."""
        async with self.raw.begin() as conn:
            for table in (
                TurnRow,
                SessionRow,
                ClaimedEvent,
                SessionLock,
                PendingQuestionRow,
                InboxOwner,
            ):
                await conn.execute(table.__table__.delete())
        await super().close()
