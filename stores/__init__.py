"""Where Dexter's thread histories live: one `SessionStore` contract, three backends.

    store = await open_store("redis://localhost:6379/0")
    history = await store.load(session_id, limit=50)
    turn = await store.append(session_id, Turn(question=..., answer=...))

Backends are imported only when their URL is opened, so a process that uses Redis never
loads SQLAlchemy, and the other way round.
"""

from __future__ import annotations

from collections.abc import Awaitable
from urllib.parse import urlsplit

from stores.base import (
    DEFAULT_LOCK_TTL,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_REDIS_PREFIX,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_RETENTION_SECONDS,
    SECONDS_PER_DAY,
    Coordination,
    Inbox,
    SessionHistory,
    SessionStore,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    UnsupportedStoreURL,
    redact_url,
)
from stores.models import (
    HistoryPage,
    MessageHistory,
    PendingQuestion,
    SessionInfo,
    Source,
    Turn,
    scope_of,
    slack_order,
)
from stores.sealing import EncryptionKeyError, Sealer

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "SECONDS_PER_DAY",
    "SUPPORTED_SCHEMES",
    "Coordination",
    "EncryptionKeyError",
    "HistoryPage",
    "Inbox",
    "MessageHistory",
    "PendingQuestion",
    "Sealer",
    "SessionHistory",
    "SessionInfo",
    "SessionStore",
    "Source",
    "StoreBusy",
    "StoreError",
    "StoreUnavailable",
    "Turn",
    "UnsupportedStoreURL",
    "open_store",
    "redact_url",
    "scope_of",
    "slack_order",
    "with_driver",
]

SUPPORTED_SCHEMES = (
    "memory",
    "redis",
    "rediss",
    "redis+cluster",
    "rediss+cluster",
    "sqlite+aiosqlite",
    "postgresql+asyncpg",
)
REDIS_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")
SQL_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
# What hosting providers and habit hand out, read as the drivers Dexter uses.
SCHEME_ALIASES = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


async def open_store(
    url: str,
    *,
    retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    redis_prefix: str = DEFAULT_REDIS_PREFIX,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    lock_ttl: float = DEFAULT_LOCK_TTL,
    sealer: Sealer | None = None,
    migrate: bool | None = None,
) -> SessionStore:
    """The store `url` names, ready to use.

    - `memory://` keeps at most `max_sessions` sessions in this process.
    - `redis://…` / `rediss://…` puts every key under `redis_prefix`; so does
      `redis+cluster://host:port` / `rediss+cluster://…`, on the Redis Cluster that node
      belongs to, hash-tagging each session's keys into one slot.
    - `sqlite+aiosqlite:///path` (the file and its directory are created) and
      `postgresql+asyncpg://…` (add `?search_path=schema` to use a schema of your own).

    On Redis and PostgreSQL, a crashed lock holder's lock expires after `lock_ttl` seconds
    (a live holder keeps extending it); memory and SQLite stores lock within the process.

    `migrate` applies pending schema migrations; by default SQLite migrates and PostgreSQL
    only checks that its schema is current (operators run `python -m stores.migrate URL`).
    `sealer` encrypts what people wrote before it reaches Redis or the database (a memory
    store keeps nothing at rest). Servers are pinged, so a server that is down raises
    `StoreUnavailable` here already.
    """
    url = with_driver(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from stores.memory import MemorySessionStore

        return MemorySessionStore(
            url, retention_seconds=retention_seconds, max_sessions=max_sessions
        )
    if scheme in REDIS_SCHEMES:
        from stores.redis import RedisSessionStore

        redis_store = RedisSessionStore(
            url,
            retention_seconds=retention_seconds,
            prefix=redis_prefix,
            lock_ttl=lock_ttl,
            sealer=sealer,
        )
        await _ready_or_closed(redis_store, redis_store.ping())
        return redis_store
    if scheme in SQL_SCHEMES:
        from stores.sql import SQLSessionStore

        sql_store = SQLSessionStore(
            url, retention_seconds=retention_seconds, lock_ttl=lock_ttl, sealer=sealer
        )
        should_migrate = scheme == "sqlite+aiosqlite" if migrate is None else migrate
        await _ready_or_closed(sql_store, sql_store.prepare(migrate=should_migrate))
        return sql_store
    raise unsupported(url)


def unsupported(url: str) -> UnsupportedStoreURL:
    return UnsupportedStoreURL(
        f"no session store serves {redact_url(url)!r}; supported schemes: "
        + ", ".join(f"{name}://" for name in (*SUPPORTED_SCHEMES, *SCHEME_ALIASES))
    )


def with_driver(url: str) -> str:
    """`postgres://…` and `postgresql://…` as `postgresql+asyncpg://…`, `sqlite:///…` as
    `sqlite+aiosqlite:///…`; any other URL as it is."""
    scheme, separator, rest = url.partition("://")
    driver = SCHEME_ALIASES.get(scheme.lower()) if separator else None
    return f"{driver}://{rest}" if driver else url


async def _ready_or_closed(store: SessionStore, check: Awaitable[None]) -> None:
    """Await the store's start-up check, closing the store if it fails."""
    try:
        await check
    except BaseException:
        await store.close()
        raise
