"""`open_store`: URL schemes, and the SQL schema's migrations."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, insert, inspect
from sqlalchemy.schema import CreateSchema, DropSchema

from stores import (
    SUPPORTED_SCHEMES,
    SessionStore,
    StoreError,
    Turn,
    UnsupportedStoreURL,
    open_store,
)
from stores.memory import MemorySessionStore
from stores.migrate import alembic_config, head_revision
from stores.models import utcnow
from stores.sql_engine import create_store_engine
from stores.sql_schema import Base, SessionRow, TurnRow
from tests.external_servers import POSTGRES_HOST, POSTGRES_PORT, need_service, postgres_url
from tests.stores.backends import schema_url
from tests.stores.processes import REPO_ROOT


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@db/dexter", "mssql+pyodbc://db/x", "dexter", ""]
)
async def test_an_unknown_url_scheme_is_refused_with_the_supported_ones_listed(url: str) -> None:
    with pytest.raises(UnsupportedStoreURL) as raised:
        await open_store(url)

    message = str(raised.value)
    assert all(f"{scheme}://" in message for scheme in SUPPORTED_SCHEMES)
    assert "hunter2" not in message


async def test_a_redis_cluster_prefix_with_a_brace_is_refused_before_any_connection() -> None:
    """A brace would make the prefix the hash tag of every key: one slot for everything."""
    with pytest.raises(ValueError, match="braces"):
        await open_store("redis+cluster://127.0.0.1:1", redis_prefix="dexter{eu}")


async def test_in_memory_sqlite_is_refused_in_favour_of_memory_store() -> None:
    with pytest.raises(UnsupportedStoreURL, match="memory://"):
        await open_store("sqlite+aiosqlite:///:memory:")


async def test_memory_url_opens_a_memory_store_with_the_given_cap() -> None:
    store = await open_store("memory://", max_sessions=2)

    assert isinstance(store, MemorySessionStore)
    assert isinstance(store, SessionStore)
    for sid in ("a:1", "a:2", "a:3"):
        await store.append(sid, Turn(question="q", answer="a"))
    assert len(store) == 2


async def test_opening_a_sqlite_file_creates_its_directory_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "dexter.db"

    store = await open_store(f"sqlite+aiosqlite:///{path}")
    await store.close()

    assert path.exists()
    assert await _tables(f"sqlite+aiosqlite:///{path}") >= {"sessions", "turns", "claimed_events"}


async def test_concurrent_first_opens_of_one_sqlite_file_migrate_it_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/dexter.db"
    caplog.set_level(logging.INFO, logger="alembic.runtime.migration")

    stores = await asyncio.gather(*(open_store(url) for _ in range(4)))

    for store in stores:
        await store.close()
    upgrades = [r.getMessage() for r in caplog.records if "Running upgrade" in r.getMessage()]
    revisions = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
    assert len(upgrades) == len(revisions) >= 2  # each migration ran once, by one opener
    reopened = await open_store(url, migrate=False)  # and the schema is current
    await reopened.close()


def test_the_migrate_command_brings_a_database_to_the_latest_revision(tmp_path: Path) -> None:
    path = tmp_path / "cli" / "dexter.db"
    url = f"sqlite+aiosqlite:///{path}"

    done = subprocess.run(
        [sys.executable, "-m", "stores.migrate", url],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert f"at revision {head_revision()}" in done.stdout
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]


async def test_the_migrate_command_upgrades_a_sqlite_file_at_0001_and_keeps_its_turns(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/at-0001.db"
    await _migrate(url, "0001")
    await _plant_session_at_0001(url, "slack:T1:C1:1.0")

    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "stores.migrate", url],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert f"at revision {head_revision()}" in done.stdout
    assert "session_locks" in await _tables(url)
    store = await open_store(url, migrate=False)
    try:
        assert [turn.question for turn in await store.load("slack:T1:C1:1.0")] == ["q"]
    finally:
        await store.close()


async def test_a_postgres_schema_at_0001_upgrades_to_leases_and_downgrades_back(
    postgres_schema: str,
) -> None:
    schema = f"{postgres_schema}_at_0001"
    url = schema_url(schema)
    engine = create_store_engine(postgres_url())
    async with engine.begin() as conn:
        await conn.execute(CreateSchema(schema))
    try:
        await _migrate(url, "0001")
        await _plant_session_at_0001(url, "slack:T1:C1:1.0")

        store = await open_store(url, migrate=True)
        try:
            assert len(await store.load("slack:T1:C1:1.0")) == 1
            async with store.lock("slack:T1:C1:1.0"):
                pass
        finally:
            await store.close()
        assert "session_locks" in await _tables(url)

        await _migrate(url, "0001", downgrade=True)
        assert "session_locks" not in await _tables(url)
    finally:
        async with engine.begin() as conn:
            await conn.execute(DropSchema(schema, cascade=True))
        await engine.dispose()


async def test_the_migrated_schema_is_what_the_models_describe(
    postgres_schema: str, tmp_path: Path
) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path}/dexter.db"
    await (await open_store(sqlite_url)).close()

    for url in (schema_url(postgres_schema), sqlite_url):
        engine = create_store_engine(url)
        try:
            async with engine.connect() as conn:
                differences = await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
        finally:
            await engine.dispose()
        assert differences == [], url


async def test_postgres_store_refuses_a_schema_that_was_not_migrated() -> None:
    need_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    schema = f"dexter_test_unmigrated_{os.getpid()}_{secrets.token_hex(4)}"
    engine = create_store_engine(postgres_url())
    async with engine.begin() as conn:
        await conn.execute(CreateSchema(schema))
    try:
        with pytest.raises(StoreError, match=r"python app\.py migrate URL"):
            await open_store(schema_url(schema))
        # the plain URLs hosting providers hand out mean PostgreSQL through asyncpg
        as_handed_out = schema_url(schema).replace("postgresql+asyncpg://", "postgres://")
        store = await open_store(as_handed_out, migrate=True)
        assert store.url.startswith("postgresql+asyncpg://")
        await store.close()
        assert await _tables(schema_url(schema)) >= {"sessions", "turns", "claimed_events"}
    finally:
        async with engine.begin() as conn:
            await conn.execute(DropSchema(schema, cascade=True))
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_store_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def _migrate(url: str, revision: str, *, downgrade: bool = False) -> None:
    """Upgrade (or downgrade) the schema at `url` to `revision`, as `alembic` would."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)

    engine = create_store_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()
    finally:
        await engine.dispose()


async def _plant_session_at_0001(url: str, session_id: str) -> None:
    """A session of one turn, written straight into the tables of revision 0001."""
    now = utcnow()
    engine = create_store_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(SessionRow).values(
                    id=session_id,
                    scope=session_id.rpartition(":")[0],
                    first_question="q",
                    turn_count=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            await conn.execute(
                insert(TurnRow).values(
                    session_id=session_id,
                    seq=1,
                    created_at=now,
                    question="q",
                    answer="a",
                    summary="",
                    question_tokens=1,
                    answer_tokens=1,
                    summary_tokens=0,
                    sources="[]",
                )
            )
    finally:
        await engine.dispose()


async def test_libpq_sslmode_in_a_postgres_url_is_understood(postgres_schema: str) -> None:
    """Hosting providers write `?sslmode=…`: it reaches asyncpg as its `ssl` mode instead
    of crashing the start with an unexpected keyword."""
    url = schema_url(postgres_schema)
    engine = create_store_engine(f"{url}&sslmode=verify-full")
    await engine.dispose()
    store = await open_store(f"{url}&sslmode=disable")
    await store.close()

    assert engine.url.query.get("ssl") == "verify-full" and "sslmode" not in engine.url.query
