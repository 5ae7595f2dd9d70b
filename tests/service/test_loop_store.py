"""The store proxy the web loop uses to reach the store living on the research loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from service.loop_store import LoopStore
from stores import StoreUnavailable, Turn, open_store
from stores.redis import RedisSessionStore
from tests.services import port_open


@pytest.fixture
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, like the research thread's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def on(loop: asyncio.AbstractEventLoop, work):
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))


@pytest.fixture
async def proxied(other_loop) -> AsyncIterator[LoopStore]:
    store = await on(other_loop, open_store("memory://"))
    yield LoopStore(store, other_loop)
    await on(other_loop, store.close())


async def test_calls_run_on_the_stores_loop(proxied: LoopStore, other_loop) -> None:
    turn = await proxied.append("slack:T1:C1:1700000000.000100", Turn("q", "a"))
    assert await proxied.claim_event("event-1", 60) is True
    assert await proxied.claim_event("event-1", 60) is False

    history = await proxied.load("slack:T1:C1:1700000000.000100")

    assert turn.seq == 1 and [t.question for t in history] == ["q"]
    assert await proxied.clear("slack:T1:C1:1700000000.000100") == 1


async def test_the_lock_excludes_holders_on_both_loops(proxied: LoopStore, other_loop) -> None:
    order: list[str] = []
    session = "slack:T1:C1:1700000000.000100"

    async def hold_on_store_loop() -> None:
        async with proxied.store.lock(session):
            order.append("store loop in")
            await asyncio.sleep(0.2)
            order.append("store loop out")

    first = on(other_loop, hold_on_store_loop())
    await asyncio.sleep(0.05)
    async with proxied.lock(session):
        order.append("web loop in")
    await first

    assert order == ["store loop in", "store loop out", "web loop in"]


async def test_a_lock_that_cannot_be_taken_raises_instead_of_hanging(other_loop) -> None:
    closed_port = 1
    assert not port_open("127.0.0.1", closed_port)
    store = RedisSessionStore(
        f"redis://127.0.0.1:{closed_port}/0", retention_seconds=60, prefix="x", lock_ttl=5
    )
    proxied = LoopStore(store, other_loop)

    with pytest.raises(StoreUnavailable):
        async with asyncio.timeout(10), proxied.lock("slack:T1:C1:1700000000.000100"):
            pytest.fail("the lock was taken on a server that is down")
    await on(other_loop, store.close())


async def test_cancelling_a_wait_for_the_lock_frees_it(proxied: LoopStore, other_loop) -> None:
    session = "slack:T1:C1:1700000000.000100"
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with proxied.lock(session):
            held.set()
            await release.wait()

    first = asyncio.create_task(holder())
    await held.wait()
    waiter = asyncio.create_task(proxied.lock(session).__aenter__())
    await asyncio.sleep(0.05)
    waiter.cancel()
    release.set()
    await first

    async with asyncio.timeout(5), proxied.lock(session):
        pass  # taken again: neither the cancelled wait nor the first holder kept it
