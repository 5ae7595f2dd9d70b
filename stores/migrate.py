"""The SQL schema's migrations (Alembic, in `stores/alembic/`), from code or a shell.

`open_store` calls `upgrade` for SQLite (and for PostgreSQL when asked); operators run

    python -m stores.migrate postgresql+asyncpg://user:password@host/db

or, for anything beyond upgrading to the latest revision, Alembic itself:

    alembic -c stores/alembic.ini -x url=postgresql+asyncpg://… downgrade base
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.base import redact_url
from stores.sql_engine import create_store_engine, take_migration_lock

ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the latest revision, one migrator at a time, in one transaction."""
    async with engine.connect() as conn:
        await take_migration_lock(conn)
        await conn.run_sync(_upgrade_on)
        await conn.commit()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_revision_of)


def _upgrade_on(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _migrate(url: str) -> str | None:
    engine = create_store_engine(url)
    try:
        await upgrade(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stores.migrate",
        description="Upgrade a SQL session store's schema to the latest revision.",
    )
    parser.add_argument("url", help="sqlite+aiosqlite:///path or postgresql+asyncpg://…")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    revision = asyncio.run(_migrate(args.url))
    print(f"{redact_url(args.url)} is at revision {revision}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
