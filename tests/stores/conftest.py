"""Fixtures of the store tests: every backend on a real server or file, kept apart per test.

- memory: a fresh store per test.
- SQLite: a fresh file per test under pytest's tmp_path.
- Redis: the test database number of `tests.external_servers`, a key prefix per test,
  keys deleted after.
- Redis Cluster: three masters on free loopback ports, started once per test run
  (`tests.stores.cluster_servers`), a key prefix per test, keys deleted after.
- PostgreSQL: one schema per test run (`dexter_test_<pid>_<random>`, migrated once, dropped
  at the end), its tables emptied after each test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from stores import SessionStore
from tests.external_servers import (
    REDIS_HOST,
    REDIS_PORT,
    need_service,
    redis_url,
)
from tests.stores.backends import (
    BACKENDS,
    Backend,
    MemoryBackend,
    PostgresBackend,
    RedisBackend,
    RedisClusterBackend,
    SQLiteBackend,
    schema_url,
)
from tests.stores.cluster_servers import LocalRedisCluster, need_redis_programs
from tests.stores.processes import Worker

T = TypeVar("T")


@pytest.fixture
def redis_test_url() -> str:
    need_service("Redis", REDIS_HOST, REDIS_PORT)
    return redis_url()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """A three-master Redis Cluster of this test run, stopped at its end."""
    need_redis_programs()
    cluster = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _make_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if name == "memory":
        return MemoryBackend("memory://")
    if name == "sqlite":
        return SQLiteBackend(f"sqlite+aiosqlite:///{tmp_path}/stores/dexter.db")
    if name == "redis":
        return RedisBackend(request.getfixturevalue("redis_test_url"))
    if name == "redis-cluster":
        return RedisClusterBackend(request.getfixturevalue("redis_cluster").url)
    return PostgresBackend(schema_url(request.getfixturevalue("postgres_schema")))


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    """The backend a test runs on; override with `@pytest.mark.parametrize('backend_name', …)`."""
    return request.param


@pytest.fixture
def _backend_made(backend_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Built in a sync fixture: PostgreSQL's session fixture runs its own event loop."""
    return _make_backend(backend_name, request, tmp_path)


@pytest.fixture
async def backend(_backend_made: Backend) -> AsyncIterator[Backend]:
    try:
        yield _backend_made
    finally:
        await _backend_made.close()


@pytest.fixture
async def store(backend: Backend) -> SessionStore:
    return await backend.open()


@pytest.fixture
def session_id() -> str:
    """A session id of a scope no other test uses, shaped like the bot's."""
    return f"slack:T{uuid.uuid4().hex[:10]}:C1:{time.time():.6f}"


@pytest.fixture
async def workers() -> AsyncIterator[Callable[[dict[str, Any]], Awaitable[Worker]]]:
    """Start workers and wait until each is ready; any still running at the end is killed."""
    started: list[Worker] = []

    async def start(config: dict[str, Any]) -> Worker:
        worker = await Worker.launch(config)
        started.append(worker)
        await worker.expect("ready")
        return worker

    try:
        yield start
    finally:
        for worker in started:
            await worker.kill()
