"""The SQL schema's migrations (Alembic, in `stores/alembic/`), from code or a shell.

`open_store` calls `upgrade` for SQLite (and for PostgreSQL when asked); operators run

    python app.py migrate postgresql://user:password@host/db

(`python -m stores.migrate URL` is the same); a URL that is not a SQL store, or a server
that cannot be reached, gets one line saying so and exit status 2.

or, for anything beyond upgrading to the latest revision, Alembic itself:

    alembic -c stores/alembic.ini -x url=postgresql+asyncpg://… downgrade base
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.base import StoreError, describe_failure, redact_url
from stores.sql_engine import create_store_engine, take_migration_lock, unavailable_on_error

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
        with unavailable_on_error(url):
            await upgrade(engine)
            return await current_revision(engine)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    from stores import SQL_SCHEMES, SUPPORTED_SCHEMES, unsupported, with_driver

    parser = argparse.ArgumentParser(
        prog="python app.py migrate",
        description="Upgrade a SQL session store's schema to the latest revision.",
    )
    parser.add_argument("url", help="sqlite:///path or postgresql://user:password@host/db")
    url = with_driver(parser.parse_args(argv).url)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SQL_SCHEMES:
        if scheme in SUPPORTED_SCHEMES:
            return _fail(f"{redact_url(url)} has no schema to migrate; only SQL stores have one")
        return _fail(str(unsupported(url)))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        revision = asyncio.run(_migrate(url))
    except StoreError as exc:
        return _fail(str(exc))
    except DBAPIError as exc:
        return _fail(f"migrating {redact_url(url)} failed: {describe_failure(exc, url)}")
    print(f"{redact_url(url)} is at revision {revision}")
    return 0


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
