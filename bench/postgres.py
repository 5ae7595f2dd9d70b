"""A PostgreSQL schema of a benchmark run: created and migrated, then dropped."""

from __future__ import annotations

from sqlalchemy.schema import CreateSchema, DropSchema

from stores import open_store
from stores.sql_engine import create_store_engine


async def migrated_schema(url: str, schema: str) -> str:
    """Create `schema` in the database `url` names and migrate it; its store URL."""
    engine = create_store_engine(url)
    async with engine.begin() as conn:
        await conn.execute(CreateSchema(schema, if_not_exists=True))
    await engine.dispose()
    scoped = f"{url}?search_path={schema}"
    store = await open_store(scoped, migrate=True)
    await store.close()
    return scoped


async def drop_schema(url: str, schema: str) -> None:
    engine = create_store_engine(url)
    async with engine.begin() as conn:
        await conn.execute(DropSchema(schema, cascade=True))
    await engine.dispose()
