"""Nothing grows without bound: Redis TTLs, the memory store's cap, SQL purging."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import update

from stores import SessionStore, Turn
from stores.memory import MemorySessionStore
from stores.models import utcnow
from stores.sql_schema import SessionRow
from tests.stores.backends import Backend, RedisBackend, SQLBackend

RETENTION_SECONDS = 3600


@pytest.mark.parametrize("backend_name", ["redis", "redis-cluster"])
async def test_every_redis_key_has_a_ttl_within_retention_after_each_write(
    backend: RedisBackend, session_id: str
) -> None:
    store = await backend.open(retention_seconds=RETENTION_SECONDS)
    writes = [
        lambda: store.append(session_id, Turn(question="q", answer="a")),
        lambda: store.append(session_id + "-2", Turn(question="q", answer="a")),
        lambda: store.claim_event(f"Ev-{session_id}", 60),
        lambda: store.append(session_id, Turn(question="q2", answer="a2")),
        lambda: store.clear(session_id + "-2"),
    ]
    for write in writes:
        await write()

        keys = await backend.keys()
        assert keys
        for key in keys:
            ttl_ms = await backend.raw.pttl(key)
            assert 0 < ttl_ms <= RETENTION_SECONDS * 1000, f"{key} has TTL {ttl_ms} ms"


@pytest.mark.parametrize("backend_name", ["redis", "redis-cluster", "postgres"])
async def test_a_lock_held_longer_than_its_ttl_is_renewed_and_stays_exclusive(
    backend: Backend, session_id: str
) -> None:
    holder = await backend.open(lock_ttl=0.6)
    rival = await backend.open(lock_ttl=0.6)

    async with holder.lock(session_id):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_take_lock(rival, session_id), 1.5)
    await asyncio.wait_for(_take_lock(rival, session_id), 2)


async def test_memory_store_evicts_the_least_recently_used_sessions_beyond_its_cap() -> None:
    store = MemorySessionStore(max_sessions=3)
    for sid in ("s:1", "s:2", "s:3"):
        await store.append(sid, Turn(question=sid, answer="a"))
    await store.load("s:1")

    await store.append("s:4", Turn(question="s:4", answer="a"))

    assert len(store) == 3
    assert not await store.load("s:2"), "the least recently used session goes first"
    assert all([await store.load(sid) for sid in ("s:1", "s:3", "s:4")])


async def test_memory_store_drops_expired_sessions_and_claims() -> None:
    store = MemorySessionStore(retention_seconds=0.2)
    await store.append("s:old", Turn(question="q", answer="a"))
    await store.append("s:gone", Turn(question="q", answer="a"))
    await store.claim_event("Ev1", 0.1)
    await asyncio.sleep(0.25)
    await store.append("s:new", Turn(question="q", answer="a"))

    assert await store.purge_expired() == 2
    assert len(store) == 1
    assert await store.claim_event("Ev1", 0.1)


async def test_memory_store_hands_out_history_that_callers_cannot_edit() -> None:
    store = MemorySessionStore()
    embedding = np.full(4, 0.5, dtype=np.float64)
    stored = await store.append("s:1", Turn(question="q", answer="a", embedding=embedding))
    embedding[0] = 9.0

    (loaded,) = (await store.load("s:1")).turns

    assert loaded.embedding is not None and stored.embedding is not None
    assert loaded.embedding.dtype == np.float32
    assert loaded.embedding.tolist() == [0.5] * 4
    with pytest.raises(ValueError, match="read-only"):
        loaded.embedding[0] = 1.0


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
async def test_purge_expired_removes_sessions_untouched_for_the_retention_period(
    backend: SQLBackend, session_id: str
) -> None:
    store = await backend.open(retention_seconds=RETENTION_SECONDS)
    old, active = session_id + "-old", session_id + "-active"
    for sid in (old, active):
        await store.append(sid, Turn(question="q", answer="a"))
        await store.append(sid, Turn(question="q", answer="a"))
    await _age(backend, old, timedelta(seconds=RETENTION_SECONDS + 60))
    assert await store.claim_event(f"Ev-{session_id}", 0.01)
    await asyncio.sleep(0.05)

    assert await store.purge_expired() == 1

    assert await backend.traces(store, old) == []
    assert len(await store.load(active)) == 2
    assert await store.purge_expired() == 0


async def _age(backend: SQLBackend, session_id: str, by: timedelta) -> None:
    async with backend.raw.begin() as conn:
        await conn.execute(
            update(SessionRow).where(SessionRow.id == session_id).values(updated_at=utcnow() - by)
        )


async def _take_lock(store: SessionStore, session_id: str) -> None:
    async with store.lock(session_id):
        pass
