"""A server that goes down makes the store raise `StoreUnavailable` (its password hidden);
the same store object works again once the server is back."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from stores import SessionStore, StoreUnavailable, Turn, open_store
from tests.external_servers import (
    POSTGRES_DB,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    REQUIRE_SERVICES,
)
from tests.stores.tcp_proxy import TCPProxy

PASSWORD = "s3cret-Pa55word"


class PrivateRedis:
    """A `redis-server` of this test on a free port, which the test can stop and restart."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--requirepass", PASSWORD,
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _port_open(self.port):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is not installed and DEXTER_REQUIRE_SERVICES is set")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_redis_down_raises_store_unavailable_without_the_password_then_recovers(
    private_redis: PrivateRedis,
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{private_redis.port}/0"
    store = await open_store(url)
    try:
        await store.append("s:1", Turn(question="q", answer="a"))

        private_redis.stop()
        for call in every_kind_of_call(store, "s:1"):
            with pytest.raises(StoreUnavailable) as raised:
                await call()
            assert PASSWORD not in str(raised.value)
            assert f":***@127.0.0.1:{private_redis.port}" in str(raised.value)

        private_redis.start()
        stored = await store.append("s:1", Turn(question="q", answer="a"))
        assert stored.seq == 1, "the restarted server kept nothing"
        assert len(await store.load("s:1")) == 1
    finally:
        await store.close()


async def test_opening_a_redis_store_whose_server_is_down_raises_store_unavailable() -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{_free_port()}/0"

    with pytest.raises(StoreUnavailable) as raised:
        await open_store(url)

    assert PASSWORD not in str(raised.value)


async def test_opening_a_redis_cluster_store_whose_node_is_down_raises_store_unavailable() -> None:
    url = f"redis+cluster://:{PASSWORD}@127.0.0.1:{_free_port()}"

    with pytest.raises(StoreUnavailable) as raised:
        await open_store(url)

    assert PASSWORD not in str(raised.value)
    assert "redis+cluster://:***@127.0.0.1" in str(raised.value)


async def test_postgres_down_raises_store_unavailable_without_the_password_then_recovers(
    postgres_schema: str,
) -> None:
    proxy = TCPProxy(POSTGRES_HOST, POSTGRES_PORT)
    await proxy.start()
    url = (
        f"postgresql+asyncpg://{POSTGRES_USER}:{PASSWORD}@127.0.0.1:{proxy.port}/{POSTGRES_DB}"
        f"?search_path={postgres_schema}"
    )
    store = await open_store(url)
    session_id = f"outage:{time.time()}"
    try:
        await store.append(session_id, Turn(question="q", answer="a"))

        await proxy.cut()
        for call in every_kind_of_call(store, session_id):
            with pytest.raises(StoreUnavailable) as raised:
                await call()
            assert PASSWORD not in str(raised.value)
            assert f":***@127.0.0.1:{proxy.port}" in str(raised.value)

        await proxy.restore()
        assert [t.seq for t in await store.load(session_id)] == [1]
        assert (await store.append(session_id, Turn(question="q", answer="a"))).seq == 2
        await store.clear(session_id)
    finally:
        await store.close()
        await proxy.cut()


async def test_a_postgres_lock_released_while_the_server_is_down_is_logged_then_expires(
    postgres_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    session_id = f"outage:{time.time()}"
    proxy = TCPProxy(POSTGRES_HOST, POSTGRES_PORT)
    await proxy.start()
    url = (
        f"postgresql+asyncpg://{POSTGRES_USER}:{PASSWORD}@127.0.0.1:{proxy.port}/{POSTGRES_DB}"
        f"?search_path={postgres_schema}"
    )
    store = await open_store(url, lock_ttl=0.5)
    try:
        with caplog.at_level(logging.WARNING, logger="stores"):
            async with store.lock(session_id):
                await proxy.cut()
                started = time.monotonic()

        assert time.monotonic() - started < 5
        assert any("could not release the lock" in r.getMessage() for r in caplog.records)
        await proxy.restore()
        await asyncio.wait_for(_take_lock(store, session_id), 3)
    finally:
        await store.close()
        await proxy.cut()


def every_kind_of_call(
    store: SessionStore, session_id: str
) -> list[Callable[[], Awaitable[object]]]:
    """A read, a write, a claim, a lock and a ping: each must report the outage."""
    return [
        lambda: store.load(session_id),
        lambda: store.append(session_id, Turn(question="q", answer="a")),
        lambda: store.claim_event(session_id, 10),
        lambda: _take_lock(store, session_id),
        store.ping,
    ]


async def _take_lock(store: SessionStore, session_id: str) -> None:
    async with store.lock(session_id):
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
