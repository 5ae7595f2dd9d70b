"""The client of a Redis Cluster store: `redis+cluster://host:port` (`rediss+cluster://` for
TLS), any one node of the cluster; the client finds the others.

redis-py's asyncio cluster client opens a connection per command in flight and fails with
`MaxConnectionsError` past its per-node limit, where the single-server store's pool waits.
`BoundedRedisCluster` makes callers wait for a permit instead, so a burst of a thousand
claims queues as it does on one server. It also retries no command that timed out (the
command may have run: an append would store its turn twice), as the single-server client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ClusterDownError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.typing import EncodableT

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
"""Store URL schemes that name a cluster, and the scheme redis-py reads in their place."""

_holding_permit: ContextVar[bool] = ContextVar("holding_cluster_permit", default=False)


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def cluster_client(url: str, *, in_flight: int, wait: float, socket_timeout: float) -> RedisCluster:
    """A client of the cluster one node of which `url` names (`redis+cluster://…`)."""
    scheme, _, rest = url.partition("://")
    return BoundedRedisCluster.from_url(
        f"{CLUSTER_SCHEMES[scheme.lower()]}://{rest}",
        in_flight=in_flight,
        wait=wait,
        max_connections=in_flight,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=1),
    )


class BoundedRedisCluster(RedisCluster):
    """A `RedisCluster` with at most `in_flight` commands or pipelines under way; more wait
    up to `wait` seconds for their turn, then fail as the single-server pool does."""

    # TimeoutError is left out: the command may have run, and must not run twice
    ERRORS_ALLOW_RETRY = (  # type: ignore[assignment]  # redis-py types it as its own tuple
        RedisConnectionError,
        ClusterDownError,
        SlotNotCoveredError,
    )

    def __init__(self, *, in_flight: int, wait: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._permits = asyncio.Semaphore(in_flight)
        self._wait = wait

    @asynccontextmanager
    async def permit(self) -> AsyncIterator[None]:
        """One of the permits; a command a pipeline sends again (after a redirection, say)
        runs under the pipeline's own permit instead of waiting for a second one."""
        if _holding_permit.get():
            yield
            return
        try:
            async with asyncio.timeout(self._wait):
                await self._permits.acquire()
        except TimeoutError:
            raise RedisConnectionError(f"no connection free within {self._wait:.0f} s") from None
        token = _holding_permit.set(True)
        try:
            yield
        finally:
            _holding_permit.reset(token)
            self._permits.release()

    async def execute_command(self, *args: EncodableT, **kwargs: Any) -> Any:
        async with self.permit():
            return await super().execute_command(*args, **kwargs)

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # redis-py refuses it
        # `_event_dispatcher` is abstract to mypy only; redis-py builds its pipeline alike
        return BoundedClusterPipeline(self, transaction)  # type: ignore[abstract]


class BoundedClusterPipeline(ClusterPipeline):
    """A cluster pipeline that runs under one permit of its client."""

    cluster_client: BoundedRedisCluster

    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        async with self.cluster_client.permit():
            return await super().execute(raise_on_error, allow_redirections)
