"""Fixtures every test folder shares: the stand-in servers and an agent wired to them."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings as hypothesis_settings
from redis.asyncio import Redis
from sqlalchemy.schema import CreateSchema, DropSchema

from agent.factory import AgentParts, build_agent
from service.configs import research_config
from settings import Settings, load_settings
from standins.market_data import API_KEY as MARKET_DATA_KEY
from standins.market_data import (
    MarketDataServer,
    market_data_server,
    market_data_server_session,
)
from standins.openai_server import API_KEY as MODEL_KEY
from standins.openai_server import OpenAIStandin, model, openai_server
from standins.slack_api import clean_slack_api_fixture, slack_api_fixture
from stores import open_store
from stores.sql_engine import create_store_engine
from tests.external_servers import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    REDIS_HOST,
    REDIS_PORT,
    need_service,
    postgres_url,
    redis_url,
)
from tests.stores.backends import schema_url

__all__ = [
    "clean_slack_api_fixture",
    "market_data_server",
    "market_data_server_session",
    "model",
    "openai_server",
    "slack_api_fixture",
]

SettingsFactory = Callable[..., Settings]
T = TypeVar("T")

# Property tests draw the same examples every run, so a failure seen in CI replays locally.
hypothesis_settings.register_profile("dexter", derandomize=True, deadline=None)
hypothesis_settings.load_profile("dexter")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A store file of the test's own, for tests that write turns beside a running Dexter."""
    return f"sqlite+aiosqlite:///{tmp_path / 'dexter.db'}"


@pytest.fixture
def make_settings(
    model: OpenAIStandin, market_data_server: MarketDataServer, tmp_path: Any
) -> SettingsFactory:
    """Settings pointing at the stand-ins, isolated from any `.env`; overrides by keyword."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "openai_api_key": MODEL_KEY,
            "openai_base_url": model.url,
            "financial_datasets_api_key": MARKET_DATA_KEY,
            "financial_datasets_base_url": market_data_server.url,
            "dexter_model": "standin-large",
            "dexter_fast_model": "standin-small",
            "dexter_model_timeout": 5.0,
            "dexter_model_retries": 1,
            "dexter_sqlite_path": tmp_path / "dexter.db",
            "dexter_embeddings": "local",
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
async def make_agent(make_settings: SettingsFactory) -> AsyncIterator[Callable[..., AgentParts]]:
    """Build agents on the stand-ins (settings overrides by keyword); closed after the test."""
    built: list[AgentParts] = []

    def make(**overrides: Any) -> AgentParts:
        parts = build_agent(research_config(make_settings(**overrides)))
        built.append(parts)
        return parts

    yield make
    for parts in built:
        await parts.close()


def run_in_fresh_loop(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from a sync session fixture, on a thread and loop of its own."""

    async def run() -> T:
        return await make()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A schema of this test run, migrated, dropped at the end."""
    need_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    schema = f"dexter_test_{os.getpid()}_{secrets.token_hex(4)}"

    async def create() -> None:
        engine = create_store_engine(postgres_url())
        async with engine.begin() as conn:
            await conn.execute(CreateSchema(schema))
        await engine.dispose()
        store = await open_store(schema_url(schema), migrate=True)
        await store.close()

    async def drop() -> None:
        engine = create_store_engine(postgres_url())
        async with engine.begin() as conn:
            await conn.execute(DropSchema(schema, cascade=True))
        await engine.dispose()

    run_in_fresh_loop(create)
    try:
        yield schema
    finally:
        run_in_fresh_loop(drop)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test on the test Redis; its keys are deleted afterwards."""
    need_service("Redis", REDIS_HOST, REDIS_PORT)
    prefix = f"dexter-test-{secrets.token_hex(4)}"
    yield prefix
    client = Redis.from_url(redis_url())
    async for key in client.scan_iter(f"{prefix}:*"):
        await client.delete(key)
    await client.aclose()
