"""How fast each session store loads and appends, as the history grows.

    .venv/bin/python -m bench.stores        (or: python bench/stores.py)

For every backend (memory, SQLite, Redis, PostgreSQL; an unreachable server is skipped
with a line saying so) and history lengths 10, 100 and 1,000, it times `load(limit=100)`
and `append` of realistic turns (a question of ~200 characters, a Markdown answer of
~2,500, a summary of ~300, three sources, a 384-d float32 embedding) and prints a Markdown
table of medians and 99th percentiles (and the fastest load: what the machine does when
nothing else runs, worth knowing on a shared box). The lengths are timed in rotation, round after
round, so a burst of load from other processes falls on all of them alike. Appends go to
the measured session, so its history grows by `--appends` turns meanwhile. A store that
appends in constant time has an append@1000 / append@10 ratio near 1.

A second table loads the latest 1,000, 2,000 and 5,000 turns of a 5,000-turn thread: the
cost of each `DEXTER_HISTORY_LOAD_LIMIT` on every answer in a thread that long.

A third table runs the OpenAI Agents SDK's session stores beside ours, in the same run and
in rotation with them (`RedisSession`; `SQLAlchemySession` on PostgreSQL and on SQLite;
`SQLiteSession` on a file), and prints ours ÷ SDK: append median, and load of the latest
100 turns of a 1,000-turn thread. The SDK keeps JSON items, so one turn is one SDK item
carrying the same data as ours: an assistant message whose content is the answer, with the
question, summary, sources, token counts, user, time and the 384-d vector (base64 of its
float32 bytes, JSON having no bytes) beside it. Its append includes building that item,
as ours includes encoding the turn; its load includes decoding the vectors back to float32
arrays, as ours returns them (that share is printed on its own). Each SDK store runs with
its defaults: no TTL on Redis where ours refreshes the thread's 30-day TTL and indexes on
every append, no schema migrations. The SDK is a bench-only extra (`pip install -e
'.[bench]'`); without it that table is skipped with a line saying so.

Redis uses its own database number and a key prefix of this run, PostgreSQL a schema of
this run; both are deleted at the end. Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as `python bench/stores.py`, the first entry of sys.path is bench/, where
    # `stores` would name this very file rather than the package it measures.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import base64
import os
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
from redis.asyncio import Redis
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateSchema, DropSchema

from stores import SessionStore, Source, StoreError, Turn, open_store
from stores.sql_engine import create_store_engine

HISTORY_LENGTHS = (10, 100, 1000)
LOAD_LIMIT = 100
# `DEXTER_HISTORY_LOAD_LIMIT` candidates, loaded from one thread of the longest.
WHOLE_LOAD_LIMITS = (1000, 2000, 5000)
EMBEDDING_DIMENSIONS = 384
REDIS_PREFIX = f"dexter-bench-{os.getpid()}"
POSTGRES_SCHEMA = f"dexter_bench_{os.getpid()}"
# The side-by-side run: the latest LOAD_LIMIT turns of a thread this long, as in issue 12.
SDK_HISTORY_LENGTH = 1000

T = TypeVar("T")

WORDS = (
    "revenue", "margin", "guidance", "quarter", "fiscal", "operating", "cash", "flow",
    "segment", "growth", "year", "over", "basis", "points", "Apple", "Microsoft", "Nvidia",
    "services", "hardware", "EBITDA", "dividend", "buyback", "consensus", "estimate",
    "valuation", "multiple", "free", "capital", "expenditure",
)  # fmt: skip


@dataclass
class Timings:
    """Milliseconds of each timed call at one history length."""

    load: list[float] = field(default_factory=list)
    append: list[float] = field(default_factory=list)


def text(rng: random.Random, characters: int) -> str:
    words: list[str] = []
    length = 0
    while length < characters:
        words.append(rng.choice(WORDS))
        length += len(words[-1]) + 1
    return " ".join(words)


def realistic_turn(rng: random.Random) -> Turn:
    table = "\n".join(f"| FY{2020 + i} | ${rng.uniform(50, 400):.1f}B |" for i in range(5))
    answer = f"{text(rng, 1200)}\n\n| year | revenue |\n|---|---|\n{table}\n\n{text(rng, 1100)}"
    embedding = np.asarray([rng.gauss(0, 1) for _ in range(EMBEDDING_DIMENSIONS)], dtype=np.float32)
    return Turn(
        question=text(rng, 200) + "?",
        answer=answer,
        summary=text(rng, 300),
        user="U012ABCDEF",
        embedding=embedding / np.linalg.norm(embedding),
        question_tokens=45,
        answer_tokens=620,
        summary_tokens=70,
        sources=tuple(
            Source(f"{ticker} 10-K", f"https://api.financialdatasets.ai/filings/{ticker}")
            for ticker in ("AAPL", "MSFT", "NVDA")
        ),
    )


async def timed(call: Awaitable[object]) -> float:
    started = time.perf_counter()
    await call
    return (time.perf_counter() - started) * 1000


async def measure(
    store: SessionStore, turns: list[Turn], args: argparse.Namespace
) -> dict[int, Timings]:
    """Time every history length in turn, round after round, so that load from other
    processes on the machine falls on every length alike and the ratios stay fair."""
    sessions = {length: f"bench:T1:C1:{length}-{time.time_ns()}" for length in HISTORY_LENGTHS}
    for length, session_id in sessions.items():
        for start in range(0, length, 50):
            batch = turns[start : min(start + 50, length)]
            await asyncio.gather(*(store.append(session_id, turn) for turn in batch))
    results = {length: Timings() for length in HISTORY_LENGTHS}
    for round_number in range(-10, args.loads):
        for length, session_id in _rotated(list(sessions.items()), round_number):
            took = await timed(store.load(session_id, limit=LOAD_LIMIT))
            if round_number >= 0:
                results[length].load.append(took)
    for round_number in range(args.appends):
        for length, session_id in _rotated(list(sessions.items()), round_number):
            turn = turns[(length + round_number) % len(turns)]
            results[length].append.append(await timed(store.append(session_id, turn)))
    for session_id in sessions.values():
        await store.clear(session_id)
    return results


async def measure_whole_loads(
    store: SessionStore, turns: list[Turn], args: argparse.Namespace
) -> dict[int, list[float]]:
    """Milliseconds to load the latest 1,000, 2,000 and 5,000 turns of a 5,000-turn thread:
    what each `DEXTER_HISTORY_LOAD_LIMIT` costs every answer in a thread that long."""
    session_id = f"bench:T1:C1:whole-{time.time_ns()}"
    longest = max(WHOLE_LOAD_LIMITS)
    for start in range(0, longest, 100):
        batch = [turns[i % len(turns)] for i in range(start, start + 100)]
        await asyncio.gather(*(store.append(session_id, turn) for turn in batch))
    results: dict[int, list[float]] = {limit: [] for limit in WHOLE_LOAD_LIMITS}
    for round_number in range(-2, args.whole_loads):
        for limit in WHOLE_LOAD_LIMITS:
            took = await timed(store.load(session_id, limit=limit))
            if round_number >= 0:
                results[limit].append(took)
    await store.clear(session_id)
    return results


class Contender(Protocol):
    """One store of the side-by-side run, holding one thread of its own."""

    name: str

    async def fill(self, turns: list[Turn]) -> None: ...

    async def load(self) -> float:
        """Load the latest `LOAD_LIMIT` turns; the milliseconds spent decoding vectors."""
        ...

    async def append(self, turn: Turn) -> None: ...


class OurStore:
    """One of our stores: its `load` returns turns with their vectors already decoded."""

    def __init__(self, name: str, store: SessionStore) -> None:
        self.name = name
        self._store = store
        self._session_id = f"bench:T1:C1:sdk-{time.time_ns()}"

    async def fill(self, turns: list[Turn]) -> None:
        for start in range(0, len(turns), 50):
            batch = turns[start : start + 50]
            await asyncio.gather(*(self._store.append(self._session_id, t) for t in batch))

    async def load(self) -> float:
        await self._store.load(self._session_id, limit=LOAD_LIMIT)
        return 0.0

    async def append(self, turn: Turn) -> None:
        await self._store.append(self._session_id, turn)


class SDKStore:
    """An Agents SDK session (`agents.memory.Session`): one JSON item per turn."""

    def __init__(self, name: str, session: Any) -> None:
        self.name = name
        self._session = session

    async def fill(self, turns: list[Turn]) -> None:
        for start in range(0, len(turns), 50):
            await self._session.add_items([sdk_item(t) for t in turns[start : start + 50]])

    async def load(self) -> float:
        items = await self._session.get_items(limit=LOAD_LIMIT)
        started = time.perf_counter()
        for item in items:
            np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
        return (time.perf_counter() - started) * 1000

    async def append(self, turn: Turn) -> None:
        await self._session.add_items([sdk_item(turn)])


def sdk_item(turn: Turn) -> dict[str, Any]:
    """The turn as one SDK item, with all of its data: the answer as an assistant message's
    content, the rest beside it, the vector as base64 of the float32 bytes ours stores."""
    return {
        "type": "message",
        "role": "assistant",
        "content": turn.answer,
        "question": turn.question,
        "summary": turn.summary,
        "user": turn.user,
        "created_at": turn.created_at.isoformat(),
        "tokens": [turn.question_tokens, turn.answer_tokens, turn.summary_tokens],
        "sources": [[source.title, source.url] for source in turn.sources],
        "embedding": base64.b64encode(np.asarray(turn.embedding, dtype="<f4").tobytes()).decode(),
    }


@dataclass
class SideBySide:
    """Milliseconds of each timed call of one contender, and the share of its loads spent
    decoding vectors (SDK items only)."""

    load: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)
    append: list[float] = field(default_factory=list)


async def measure_side_by_side(
    contenders: list[Contender], turns: list[Turn], args: argparse.Namespace
) -> dict[str, SideBySide]:
    """Fill every contender's thread with the same turns, then time loads and appends of
    all of them in rotation, so a burst of load on the machine falls on each alike."""
    for contender in contenders:
        await contender.fill(turns[:SDK_HISTORY_LENGTH])
    results = {contender.name: SideBySide() for contender in contenders}
    for round_number in range(-10, args.loads):
        for contender in _rotated(contenders, round_number):
            started = time.perf_counter()
            decode = await contender.load()
            if round_number >= 0:
                results[contender.name].load.append((time.perf_counter() - started) * 1000)
                results[contender.name].decode.append(decode)
    for round_number in range(args.appends):
        for contender in _rotated(contenders, round_number):
            turn = turns[SDK_HISTORY_LENGTH + round_number]
            took = await timed(contender.append(turn))
            results[contender.name].append.append(took)
    return results


def _rotated(items: list[T], by: int) -> list[T]:
    """The items in a different order each round, so none is always timed first."""
    shift = by % len(items)
    return items[shift:] + items[:shift]


def median(values: list[float]) -> float:
    return statistics.median(values)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


@asynccontextmanager
async def redis_store(url: str) -> AsyncIterator[SessionStore]:
    store = await open_store(url, redis_prefix=REDIS_PREFIX)
    try:
        yield store
    finally:
        await store.close()
        raw = Redis.from_url(url)
        keys = [key async for key in raw.scan_iter(match=f"{REDIS_PREFIX}:*")]
        if keys:
            await raw.unlink(*keys)
        await raw.aclose()


@asynccontextmanager
async def postgres_store(url: str) -> AsyncIterator[SessionStore]:
    admin = create_store_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(CreateSchema(POSTGRES_SCHEMA))
        store = await open_store(f"{url}?search_path={POSTGRES_SCHEMA}", migrate=True)
        try:
            yield store
        finally:
            await store.close()
            async with admin.begin() as conn:
                await conn.execute(DropSchema(POSTGRES_SCHEMA, cascade=True))
    finally:
        await admin.dispose()


@asynccontextmanager
async def sqlite_store(directory: str, name: str = "bench.db") -> AsyncIterator[SessionStore]:
    store = await open_store(f"sqlite+aiosqlite:///{directory}/{name}")
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def memory_store() -> AsyncIterator[SessionStore]:
    store = await open_store("memory://")
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def redis_beside_sdk(url: str) -> AsyncIterator[list[Contender]]:
    from agents.extensions.memory import RedisSession

    async with redis_store(url) as store:  # its clean-up takes the SDK's keys too
        session = RedisSession.from_url(
            f"sdk-{time.time_ns()}", url=url, key_prefix=f"{REDIS_PREFIX}:sdk"
        )
        try:
            yield [OurStore("ours, Redis", store), SDKStore("SDK `RedisSession`", session)]
        finally:
            await session.close()


@asynccontextmanager
async def postgres_beside_sdk(url: str) -> AsyncIterator[list[Contender]]:
    from agents.extensions.memory import SQLAlchemySession

    async with postgres_store(url) as store:  # the SDK's tables go with this run's schema
        engine = create_async_engine(
            url, connect_args={"server_settings": {"search_path": POSTGRES_SCHEMA}}
        )
        session = SQLAlchemySession(f"sdk-{time.time_ns()}", engine=engine, create_tables=True)
        try:
            yield [
                OurStore("ours, PostgreSQL", store),
                SDKStore("SDK `SQLAlchemySession`, PostgreSQL", session),
            ]
        finally:
            await engine.dispose()


@asynccontextmanager
async def sqlite_beside_sdk(directory: str) -> AsyncIterator[list[Contender]]:
    """Each store on a file of its own, all in the same directory."""
    from agents import SQLiteSession
    from agents.extensions.memory import SQLAlchemySession

    async with sqlite_store(directory, "beside-sdk.db") as store:
        engine: AsyncEngine = create_async_engine(
            f"sqlite+aiosqlite:///{directory}/sdk-sqlalchemy.db"
        )
        plain = SQLiteSession(f"sdk-{time.time_ns()}", f"{directory}/sdk-sqlite.db")
        try:
            yield [
                OurStore("ours, SQLite", store),
                SDKStore("SDK `SQLiteSession` (stdlib sqlite3, file)", plain),
                SDKStore(
                    "SDK `SQLAlchemySession`, SQLite",
                    SQLAlchemySession(f"sdk-{time.time_ns()}", engine=engine, create_tables=True),
                ),
            ]
        finally:
            plain.close()
            await engine.dispose()


def sdk_missing() -> str | None:
    """Why the Agents SDK's stores cannot run here, or None when they can."""
    try:
        from agents import SQLiteSession  # noqa: F401
        from agents.extensions.memory import RedisSession, SQLAlchemySession  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


async def run_beside_sdk(
    turns: list[Turn], directory: str, args: argparse.Namespace
) -> list[dict[str, SideBySide]]:
    """Each backend's contenders, measured together; a backend at a time."""
    groups: dict[str, Callable[[], Any]] = {
        "redis": lambda: redis_beside_sdk(args.redis_url),
        "postgresql": lambda: postgres_beside_sdk(args.postgres_url),
        "sqlite": lambda: sqlite_beside_sdk(directory),
    }
    results = []
    for name, opener in groups.items():
        if args.backend and name not in args.backend:
            continue
        async with AsyncExitStack() as stack:
            try:
                contenders = await stack.enter_async_context(opener())
            except (StoreError, DBAPIError, OSError) as exc:
                print(f"- {name} beside the Agents SDK: skipped, {exc}")
                continue
            results.append(await measure_side_by_side(contenders, turns, args))
    return results


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(20261128)
    turns = [realistic_turn(rng) for _ in range(max(HISTORY_LENGTHS) + args.appends)]
    rows = []
    whole: list[tuple[str, dict[int, list[float]]]] = []
    with tempfile.TemporaryDirectory() as directory:
        backends = {
            "memory": memory_store,
            "SQLite": lambda: sqlite_store(directory),
            "Redis": lambda: redis_store(args.redis_url),
            "PostgreSQL": lambda: postgres_store(args.postgres_url),
        }
        for name, opener in backends.items():
            if args.backend and name.lower() not in args.backend:
                continue
            async with AsyncExitStack() as stack:
                try:
                    store = await stack.enter_async_context(opener())
                except (StoreError, DBAPIError, OSError) as exc:
                    print(f"- {name}: skipped, {exc}")
                    continue
                rows.append((name, await measure(store, turns, args)))
                if args.whole_loads:
                    whole.append((name, await measure_whole_loads(store, turns, args)))
        missing = sdk_missing() if args.sdk else None
        if missing:
            print(
                f"- Agents SDK stores: skipped, `agents` is not importable ({missing}); "
                "it is a bench-only extra: pip install -e '.[bench]'"
            )
        beside_sdk = (
            await run_beside_sdk(turns, directory, args) if args.sdk and not missing else []
        )
    print_table(rows, args)
    if whole:
        print_whole_table(whole, args)
    if beside_sdk:
        print_sdk_table(beside_sdk, args)


def print_table(rows: list[tuple[str, dict[int, Timings]]], args: argparse.Namespace) -> None:
    load_average = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\n`load(limit={LOAD_LIMIT})` ×{args.loads} and `append` ×{args.appends} per cell, "
        f"milliseconds; {os.cpu_count()} CPUs, load average {load_average}\n"
    )
    print(
        "| backend | history | load median | load p99 | load min | append median "
        "| append p99 | append ÷ append@10 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, results in rows:
        base = median(results[HISTORY_LENGTHS[0]].append)
        for length, timings in results.items():
            print(
                f"| {name} | {length:,} | {median(timings.load):.2f} | {p99(timings.load):.2f} "
                f"| {min(timings.load):.2f} | {median(timings.append):.2f} "
                f"| {p99(timings.append):.2f} | {median(timings.append) / base:.2f} |"
            )


def print_whole_table(
    rows: list[tuple[str, dict[int, list[float]]]], args: argparse.Namespace
) -> None:
    print(
        f"\n`load(limit=N)` of a {max(WHOLE_LOAD_LIMITS):,}-turn thread ×{args.whole_loads} "
        "per cell, milliseconds (median / p99)\n"
    )
    print("| backend | " + " | ".join(f"limit {limit:,}" for limit in WHOLE_LOAD_LIMITS) + " |")
    print("|---|" + "---:|" * len(WHOLE_LOAD_LIMITS))
    for name, results in rows:
        cells = [
            f"{median(results[limit]):.1f} / {p99(results[limit]):.1f}"
            for limit in WHOLE_LOAD_LIMITS
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


def print_sdk_table(groups: list[dict[str, SideBySide]], args: argparse.Namespace) -> None:
    """One row a store; each SDK row's ratios are ours (the first of its group) ÷ it."""
    print(
        f"\nOurs beside the Agents SDK's session stores, one run, in rotation: `append` "
        f"×{args.appends} and load of the latest {LOAD_LIMIT} turns of a "
        f"{SDK_HISTORY_LENGTH:,}-turn thread ×{args.loads}, milliseconds; an SDK load "
        "includes decoding its base64 vectors (its own column)\n"
    )
    print(
        "| store | append median | append p99 | load median | load p99 "
        "| of which vector decode | ours ÷ SDK append | ours ÷ SDK load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for group in groups:
        ours = next(iter(group.values()))
        for name, timings in group.items():
            is_ours = timings is ours
            decode = "" if is_ours else f"{median(timings.decode):.2f}"
            append_ratio = "" if is_ours else f"{median(ours.append) / median(timings.append):.2f}"
            load_ratio = "" if is_ours else f"{median(ours.load) / median(timings.load):.2f}"
            print(
                f"| {name} | {median(timings.append):.2f} | {p99(timings.append):.2f} "
                f"| {median(timings.load):.2f} | {p99(timings.load):.2f} | {decode} "
                f"| {append_ratio} | {load_ratio} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stores", description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument(
        "--backend",
        action="append",
        choices=("memory", "sqlite", "redis", "postgresql"),
        help="measure only this backend (repeatable); all of them by default",
    )
    parser.add_argument("--loads", type=int, default=300, help="load samples per cell")
    parser.add_argument("--appends", type=int, default=100, help="append samples per cell")
    parser.add_argument(
        "--whole-loads",
        type=int,
        default=20,
        help="samples per load limit of a 5,000-turn thread (0 skips that table)",
    )
    parser.add_argument(
        "--no-sdk",
        dest="sdk",
        action="store_false",
        help="skip the run beside the OpenAI Agents SDK's session stores",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
