"""Stores shared by several OS processes: SQLite files, Redis and PostgreSQL servers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from stores import SessionStore
from tests.stores.backends import SERVER_BACKENDS, SHARED_BACKENDS, Backend
from tests.stores.processes import Worker

StartWorker = Callable[[dict[str, Any]], Awaitable[Worker]]


def worker_config(backend: Backend, action: str, session_id: str, **extra: Any) -> dict[str, Any]:
    options = extra.pop("options", {})
    return {
        "url": backend.url,
        "options": backend.options(**options),
        "action": action,
        "session_id": session_id,
        **extra,
    }


@pytest.mark.parametrize("backend_name", SHARED_BACKENDS)
async def test_appends_from_two_processes_get_sequence_one_to_two_hundred(
    backend: Backend, store: SessionStore, session_id: str, workers: StartWorker
) -> None:
    config = worker_config(backend, "append", session_id, count=100)
    first, second = await asyncio.gather(workers(config), workers(config))

    await asyncio.gather(first.go(), second.go())
    seqs = json.loads(await first.expect()) + json.loads(await second.expect())

    assert sorted(seqs) == list(range(1, 201))
    assert [t.seq for t in await store.load(session_id)] == list(range(1, 201))
    assert await first.finish() == 0 and await second.finish() == 0


@pytest.mark.parametrize("backend_name", SERVER_BACKENDS)
async def test_a_lock_held_by_another_process_makes_this_one_wait(
    backend: Backend, store: SessionStore, session_id: str, workers: StartWorker
) -> None:
    holder = await workers(worker_config(backend, "hold-lock", session_id))
    await holder.go()
    await holder.expect("locked")

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_take_lock(store, session_id), 0.5)
    await holder.go()
    await holder.expect("released")

    await asyncio.wait_for(_take_lock(store, session_id), 5)


@pytest.mark.parametrize("backend_name", SERVER_BACKENDS)
async def test_a_crashed_holders_lock_is_freed(
    backend: Backend, session_id: str, workers: StartWorker
) -> None:
    """Redis: the lock key expires `lock_ttl` after the holder stops renewing it.
    PostgreSQL: the lease row expires `lock_ttl` after the holder stops extending it."""
    lock_ttl = 1.0
    store = await backend.open(lock_ttl=lock_ttl)
    holder = await workers(
        worker_config(backend, "hold-lock", session_id, options={"lock_ttl": lock_ttl})
    )
    await holder.go()
    await holder.expect("locked")

    await holder.kill()
    started = time.monotonic()
    await asyncio.wait_for(_take_lock(store, session_id), lock_ttl + 5)

    assert time.monotonic() - started < lock_ttl + 1


@pytest.mark.parametrize("backend_name", SERVER_BACKENDS)
async def test_two_stores_on_one_server_exclude_each_other(
    backend: Backend, session_id: str
) -> None:
    """Each store instance has its own connections, as two processes would."""
    first, second = await backend.open(), await backend.open()

    async with first.lock(session_id):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_take_lock(second, session_id), 0.5)
    await asyncio.wait_for(_take_lock(second, session_id), 5)


async def _take_lock(store: SessionStore, session_id: str) -> None:
    async with store.lock(session_id):
        pass
