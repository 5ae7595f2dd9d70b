"""SQLAlchemy engines for the SQL store, and the few backend features that need raw SQL.

SQLite is the embedded default: a file (its directory is created), WAL so readers never
wait for the writer, a busy timeout so a second process waits for the write lock instead
of failing at once, and foreign keys on (SQLite leaves them off by default; the turns of a
purged session go by `ON DELETE CASCADE`). PostgreSQL goes through asyncpg with
pre-ping, so a pooled connection that died with its server is replaced, not used.

The raw SQL strings of the package live here and nowhere else: SQLite's PRAGMAs and its
`BEGIN IMMEDIATE`. PostgreSQL's migration lock (an advisory lock for the length of the
migrating transaction) is a plain function, called through `sqlalchemy.func`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

from stores.base import StoreBusy, StoreUnavailable, UnsupportedStoreURL, describe_failure

SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=10000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
"""The busy timeout comes first: switching a new file to WAL takes its lock, and without
the timeout a second connection opening the file at that moment failed at once ("database
is locked"). WAL with synchronous=NORMAL survives a crash of the process; a power cut may
lose the last commits, which is the usual trade for a chat history."""

SQLITE_LOCKED_ATTEMPTS = 100
SQLITE_LOCKED_PAUSE_SECONDS = 0.05

POSTGRES_CONNECT_TIMEOUT = 10.0
POSTGRES_COMMAND_TIMEOUT = 30.0
"""Seconds before a statement counts as failed, so a hung server is reported, not waited on."""
POSTGRES_POOL_SIZE = 5
POSTGRES_POOL_OVERFLOW = 5
"""Per engine, and a store has two (writes, reads): at most 20 connections a process, so
several instances fit PostgreSQL's default of 100. Statements are short; a lock is a lease
row, not a held connection, so 150 answers at once need no more."""
POOL_WAIT_SECONDS = 10.0

SEARCH_PATH_PARAMETER = "search_path"
"""A `postgresql+asyncpg://…?search_path=schema` URL keeps the tables in that schema."""

SSLMODE_PARAMETER = "sslmode"
"""How hosting providers write TLS in a PostgreSQL URL (`?sslmode=require`); read as asyncpg's
`ssl`, which takes the same modes (disable, allow, prefer, require, verify-ca, verify-full)."""

MIGRATION_LOCK_NAME = "dexter-stores-migration"


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


class EngineUse(Enum):
    """What a store's engine is for; on PostgreSQL each gets a pool of its own."""

    WRITES = "writes"
    """Transactions, READ COMMITTED (a concurrent upsert re-reads the row it waited for:
    that is how appends count without gaps); also migrations, and SQLite's everything."""
    READS = "reads"
    """Single statements in autocommit: no BEGIN/ROLLBACK round trips around them, and a
    pre-ping of one round trip (asyncpg wraps the ping in a transaction otherwise)."""


def create_store_engine(url: str, use: EngineUse = EngineUse.WRITES) -> AsyncEngine:
    """An engine for the store's URL, tuned for `use`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return _postgres_engine(parsed, use)


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise UnsupportedStoreURL(
            f"SQLite needs a file path ({url.render_as_string()}); use memory:// for a store "
            "that lives in this process only"
        )
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: a failed statement's error never carries users' questions into logs
    engine = create_async_engine(
        url, pool_timeout=POOL_WAIT_SECONDS, hide_parameters=True, pool_reset_on_return=None
    )
    event.listen(engine.sync_engine, "connect", _tune_sqlite_connection)
    event.listen(engine.sync_engine, "reset", _roll_back_if_open)
    return engine


def _tune_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            _execute_when_unlocked(cursor, pragma)
    finally:
        cursor.close()


def _roll_back_if_open(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """The pool's reset of a connection it takes back, minus a rollback with nothing to undo.

    SQLAlchemy's own reset rolls back every connection returned after a commit; on
    aiosqlite that is a round trip to the connection's thread, one of the nine of each
    append (about a tenth of its time). SQLite knows whether a transaction is open, and
    the flag is read without a round trip, so a connection returned mid-transaction (an
    error, say) is still rolled back and never keeps the file's write lock. As in
    SQLAlchemy's reset, nothing is done where the connection is being thrown away or
    cannot be awaited (garbage collection).
    """
    if not state.asyncio_safe or state.terminate_only:
        return
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _execute_when_unlocked(cursor: Any, pragma: str) -> None:
    """Run `pragma`, trying again while the file is locked. Switching a brand-new file to
    WAL needs it to itself, and when several connections open it at once SQLite may answer
    "database is locked" without waiting out the busy timeout. Only a first open can meet
    this, so the short blocking pauses cost nothing later."""
    for attempt in range(1, SQLITE_LOCKED_ATTEMPTS + 1):
        try:
            cursor.execute(pragma)
            return
        except Exception as exc:  # the driver's OperationalError, as SQLAlchemy adapts it
            if "locked" not in str(exc) or attempt == SQLITE_LOCKED_ATTEMPTS:
                raise
            time.sleep(SQLITE_LOCKED_PAUSE_SECONDS)


def _postgres_engine(url: URL, use: EngineUse) -> AsyncEngine:
    # named per process, so an operator (or a test) can tell this process's connections apart
    server_settings = {"application_name": application_name()}
    connect_args: dict[str, Any] = {
        "timeout": POSTGRES_CONNECT_TIMEOUT,
        "command_timeout": POSTGRES_COMMAND_TIMEOUT,
        "server_settings": server_settings,
    }
    if SSLMODE_PARAMETER in url.query:
        # libpq's name, which asyncpg calls `ssl` (same values); passed on it would crash
        url = url.update_query_dict({"ssl": url.query[SSLMODE_PARAMETER]}).difference_update_query(
            [SSLMODE_PARAMETER]
        )
    search_path = url.query.get(SEARCH_PATH_PARAMETER)
    if search_path:
        server_settings["search_path"] = str(search_path)
        url = url.difference_update_query([SEARCH_PATH_PARAMETER])
    return create_async_engine(
        url,
        isolation_level="AUTOCOMMIT" if use is EngineUse.READS else "READ COMMITTED",
        pool_pre_ping=True,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_POOL_OVERFLOW,
        pool_timeout=POOL_WAIT_SECONDS,
        connect_args=connect_args,
        hide_parameters=True,
    )


def application_name() -> str:
    """How PostgreSQL's `pg_stat_activity` names this process's connections."""
    return f"dexter:{os.getpid()}"


def advisory_lock_key(name: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, the same in every process."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def take_migration_lock(conn: AsyncConnection) -> None:
    """Hold the database against other migrators until `conn`'s transaction ends.

    Several processes may open a fresh database at once; the first migrates, the others
    wait here and then find the schema current.
    """
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        await conn.execute(
            select(func.pg_advisory_xact_lock(advisory_lock_key(MIGRATION_LOCK_NAME)))
        )


@contextmanager
def unavailable_on_error(url: str) -> Iterator[None]:
    """A lost or unreachable database as `StoreUnavailable`; other errors as they are."""
    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            raise StoreUnavailable(url, describe_failure(exc, url)) from exc
        raise
    except PoolTimeoutError as exc:
        raise StoreBusy(url, describe_failure(exc, url)) from exc
    except OSError as exc:
        raise StoreUnavailable(url, describe_failure(exc, url)) from exc
