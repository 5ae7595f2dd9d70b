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
import os
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import numpy as np
from redis.asyncio import Redis
from sqlalchemy.exc import DBAPIError
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
        for length, session_id in _rotated(sessions, round_number):
            took = await timed(store.load(session_id, limit=LOAD_LIMIT))
            if round_number >= 0:
                results[length].load.append(took)
    for round_number in range(args.appends):
        for length, session_id in _rotated(sessions, round_number):
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


def _rotated(sessions: dict[int, str], by: int) -> list[tuple[int, str]]:
    """The sessions in a different order each round, so none is always timed first."""
    items = list(sessions.items())
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
async def sqlite_store(directory: str) -> AsyncIterator[SessionStore]:
    store = await open_store(f"sqlite+aiosqlite:///{directory}/bench.db")
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
    print_table(rows, args)
    if whole:
        print_whole_table(whole, args)


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
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
