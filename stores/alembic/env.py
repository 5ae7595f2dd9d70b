"""Alembic's entry point for the session store's schema.

`stores.migrate.upgrade` hands us a connection that already holds the migration lock
inside its transaction. Run from the `alembic` command line instead, we open the store's
engine ourselves (async, with the same URL handling as the store) from `-x url=…`.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from stores.sql_engine import create_store_engine, take_migration_lock
from stores.sql_schema import Base

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


def command_line_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit(
            "give the database URL: alembic -c stores/alembic.ini -x url=… upgrade head"
        )
    return url


async def run_on_new_engine(url: str) -> None:
    engine = create_store_engine(url)
    try:
        async with engine.connect() as conn:
            await take_migration_lock(conn)
            await conn.run_sync(run_migrations)
            await conn.commit()
    finally:
        await engine.dispose()


given_connection = config.attributes.get("connection")
if given_connection is not None:
    run_migrations(given_connection)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    if context.is_offline_mode():
        context.configure(url=command_line_url(), target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_on_new_engine(command_line_url()))
