"""Every byte a store holds, read behind its back: what encryption-at-rest tests search."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import LargeBinary, Text, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql_schema import Base


async def redis_contents(raw: Redis, prefix: str) -> bytes:
    """Each key's values (and hash fields) under `prefix`, of whatever type."""
    found = []
    async for key in raw.scan_iter(match=f"{prefix}:*"):
        kind = (await raw.type(key)).decode()
        if kind == "string":
            found.append(await raw.get(key) or b"")
        elif kind == "list":
            found += await raw.lrange(key, 0, -1)
        elif kind == "hash":
            found += [k + b"=" + v for k, v in (await raw.hgetall(key)).items()]
        elif kind == "set":
            found += await raw.smembers(key)
        elif kind == "zset":
            found += await raw.zrange(key, 0, -1)
        else:
            raise AssertionError(f"unexpected Redis type {kind} of {key!r}")
    return b"\n".join(found)


async def sql_contents(engine: AsyncEngine) -> bytes:
    """Every text and binary column of every table of the store's schema."""
    found = []
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, Text | LargeBinary)]
            for row in (await conn.execute(select(*columns))).all():
                found += [v if isinstance(v, bytes) else str(v).encode() for v in row if v]
    return b"\n".join(found)
