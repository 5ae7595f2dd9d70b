"""PostgreSQL's session locks are leases in `session_locks`: many held at once cost no
connection each, and what `clear`, `purge_expired`, cancellation and failures do to them."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text, update

from stores import SessionStore
from stores.sql_engine import POSTGRES_POOL_OVERFLOW, POSTGRES_POOL_SIZE, application_name
from stores.sql_schema import SessionLock
from tests.external_servers import POSTGRES_DB
from tests.stores.backends import SQLBackend

pytestmark = pytest.mark.parametrize("backend_name", ["postgres"])

STORE_CONNECTIONS_AT_MOST = 2 * (POSTGRES_POOL_SIZE + POSTGRES_POOL_OVERFLOW)
"""A store's two pools (writes and reads), each full with its overflow."""


async def test_a_hundred_and_fifty_held_locks_use_no_more_connections_than_the_pools(
    backend: SQLBackend, session_id: str
) -> None:
    sessions = 150
    baseline = await _connections_to_the_test_database(backend)
    store = await backend.open(lock_ttl=60)  # no lease may lapse, however busy the machine
    all_held = asyncio.Barrier(sessions + 1)
    let_go = asyncio.Event()
    peak = baseline

    async def hold(n: int) -> None:
        async with store.lock(f"{session_id}-{n}"):
            await all_held.wait()
            await let_go.wait()

    async def sample_connections() -> None:
        nonlocal peak
        while True:
            peak = max(peak, await _connections_to_the_test_database(backend))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample_connections())
    holders = [asyncio.create_task(hold(n)) for n in range(sessions)]
    try:
        await asyncio.wait_for(all_held.wait(), 20)
        assert await _leases(backend, f"{session_id}-%", live=True) == sessions
    finally:
        let_go.set()
        await asyncio.wait_for(asyncio.gather(*holders), 20)
        sampler.cancel()
        await asyncio.wait([sampler])

    assert 0 < peak - baseline <= STORE_CONNECTIONS_AT_MOST, (
        f"{peak - baseline} connections for {sessions} held locks"
    )
    assert await _leases(backend, f"{session_id}-%") == 0


async def test_a_held_lease_is_extended_past_its_first_expiry(
    backend: SQLBackend, session_id: str
) -> None:
    """Extensions are watched for, not timed: a late one on a busy machine still counts."""
    store = await backend.open(lock_ttl=1.5)
    async with store.lock(session_id):
        first = await _expiry(backend, session_id)
        deadline = time.monotonic() + 30
        while (later := await _expiry(backend, session_id)) == first:
            assert time.monotonic() < deadline, "the lease was never extended"
            await asyncio.sleep(0.05)

    assert later > first
    assert await _leases(backend, session_id) == 0


async def test_clear_leaves_a_held_lease_to_its_holder_and_removes_an_expired_one(
    backend: SQLBackend, store: SessionStore, session_id: str
) -> None:
    crashed = session_id + "-crashed"
    await _plant_lease(backend, crashed, expired_for=timedelta(seconds=5))

    async with store.lock(session_id):
        await store.clear(session_id)
        await store.clear(crashed)

        assert await _leases(backend, session_id) == 1
        assert await _leases(backend, crashed) == 0
        rival = await backend.open()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_take_lock(rival, session_id), 0.3)
    assert await _leases(backend, session_id) == 0


async def test_purge_expired_removes_expired_leases_and_keeps_held_ones(
    backend: SQLBackend, store: SessionStore, session_id: str
) -> None:
    crashed = session_id + "-crashed"
    await _plant_lease(backend, crashed, expired_for=timedelta(seconds=5))

    async with store.lock(session_id):
        await store.purge_expired()

        assert await _leases(backend, session_id) == 1
        assert await _leases(backend, crashed) == 0


async def test_an_expired_lease_is_taken_over_and_a_live_one_is_not(
    backend: SQLBackend, store: SessionStore, session_id: str
) -> None:
    live, expired = session_id + "-live", session_id + "-expired"
    await _plant_lease(backend, live, expired_for=timedelta(seconds=-30))
    await _plant_lease(backend, expired, expired_for=timedelta(seconds=1))

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_take_lock(store, live), 0.3)
    await asyncio.wait_for(_take_lock(store, expired), 2)

    assert await _leases(backend, expired) == 0


async def test_takers_cancelled_at_any_moment_never_leave_a_lease_behind(
    backend: SQLBackend, store: SessionStore, session_id: str
) -> None:
    """Neither a cancellation that lands while the upsert is on the wire nor one that lands
    during the release may strand a lease (the default lock_ttl would keep a rival out for a
    minute)."""
    for _ in range(40):
        taker = asyncio.create_task(_take_lock(store, session_id))
        await asyncio.sleep(random.uniform(0, 0.005))
        taker.cancel()
        await asyncio.wait([taker])

    rival = await backend.open()
    await asyncio.wait_for(_take_lock(rival, session_id), 2)
    assert await _leases(backend, session_id) == 0


async def test_a_lease_taken_from_its_holder_is_logged_not_raised(
    backend: SQLBackend, session_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = await backend.open(lock_ttl=0.3)

    with caplog.at_level(logging.WARNING, logger="stores"):
        async with store.lock(session_id):
            async with backend.raw.begin() as conn:
                await conn.execute(
                    update(SessionLock)
                    .where(SessionLock.session_id == session_id)
                    .values(holder="someone else")
                )
            await asyncio.sleep(0.25)

    messages = [record.getMessage() for record in caplog.records]
    assert any("stopped extending" in message for message in messages), messages
    assert any("before its holder released it" in message for message in messages), messages
    assert await _leases(backend, session_id) == 1, "the other holder's lease stays"


async def _connections_to_the_test_database(backend: SQLBackend) -> int:
    """This process's connections only: a second test run beside this one has its own."""
    async with backend.raw.connect() as conn:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = :database AND application_name = :name"
        )
        return await conn.scalar(query, {"database": POSTGRES_DB, "name": application_name()})


async def _expiry(backend: SQLBackend, session_id: str) -> datetime:
    async with backend.raw.connect() as conn:
        query = select(SessionLock.expires_at).where(SessionLock.session_id == session_id)
        return (await conn.execute(query)).scalar_one()


async def _leases(backend: SQLBackend, session_pattern: str, *, live: bool = False) -> int:
    """How many lease rows of sessions `LIKE session_pattern` there are (`live`: unexpired)."""
    query = (
        select(func.count())
        .select_from(SessionLock)
        .where(SessionLock.session_id.like(session_pattern))
    )
    if live:
        query = query.where(SessionLock.expires_at > func.now())
    async with backend.raw.connect() as conn:
        return await conn.scalar(query)


async def _plant_lease(backend: SQLBackend, session_id: str, *, expired_for: timedelta) -> None:
    """A lease of some other holder that expired `expired_for` ago (negative: expires later)."""
    async with backend.raw.begin() as conn:
        await conn.execute(
            insert(SessionLock).values(
                session_id=session_id,
                holder="a crashed process",
                expires_at=func.now() - expired_for,
            )
        )


async def _take_lock(store: SessionStore, session_id: str) -> None:
    async with store.lock(session_id):
        pass
