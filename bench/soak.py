"""Two real instances on one store for a long while: every question answered once, no leak.

    python -m bench.soak [--store redis|postgres|sqlite] [--questions 5000] [--threads 500]
                         [--duration 600] [--model-latency 1.0] [--json report.json]

Two `app.py` processes (HTTP mode, as deployed behind a load balancer) share one store. The
stand-ins for Slack's Web API, the model and the market data run in a process of their own
(`bench.standins_process`); this process plays Slack's event delivery. It asks `--questions`
questions over `--threads` threads, spread evenly over `--duration` seconds: each thread
opens with a mention and goes on with follow-ups in the thread, without a mention, each
sent once the thread's previous question was acknowledged (as a person would). Each
delivery goes to either instance at random, and Slack's misbehaviour is mixed in:

- a double delivery: the same event (same `event_id`) to both instances at once;
- a retry: the event again, with `X-Slack-Retry-Num` (1 to 3) and a delay, to either;
- a twin: a follow-up that mentions Dexter comes as an `app_mention` and as a `message`
  event of the same message, as a `message.channels` subscription has Slack send it.

When every question is asked, it waits until each has its answer (or `--drain` runs out)
and the inbox is empty, then `--settle` seconds more for an answer that would come twice.
Then it reports:

- answers (final answers shown in Slack: a message with its sources), which must equal
  the questions; apologies (a reference id instead of an answer);
- duplicates: answers in a thread beyond the questions asked there, and questions stored
  twice; lost: questions that got neither an answer nor an apology (in Slack, or as a
  stored turn). Both must be 0;
- threads whose stored questions are not in Slack's order;
- each instance's resident memory (RSS) at boot, once `--warm-up` of the questions are
  answered ("start": caches and lazy imports filled), at the end, and its peak; growth is
  end against start;
- acknowledgement latency of every delivery (p50, p99, max) and any answer but 200;
- store size per stored turn: the history alone, and everything the run left (dedupe
  claims, inbox, indexes);
- warnings and errors the instances logged (their logs stay in `--logs`).

Figures only: nothing here passes or fails on time. The stand-ins and this process share
the machine with the two instances, so on a small machine they compete for its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx
from redis.asyncio import Redis
from sqlalchemy import text

from bench.postgres import drop_schema, migrated_schema
from bench.standins_process import StandinsProcess, StandinURLs
from standins.market_data import API_KEY as MARKET_DATA_KEY
from standins.openai_server import API_KEY as MODEL_KEY
from standins.slack_api import BOT_TOKEN, BOT_USER_ID, TEAM_ID
from standins.slack_events import SIGNING_SECRET, event_callback, mention, message, sign
from stores import SessionStore, open_store
from stores.sql_engine import create_store_engine

ROOT = Path(__file__).resolve().parent.parent
STORE_URLS = {
    "redis": "redis://127.0.0.1:6379/13",
    "postgres": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
}
COMPANIES = ("Apple", "Microsoft", "Nvidia", "Alphabet", "Amazon", "Tesla", "JPMorgan")
METRICS = ("revenue", "net income", "gross margin", "operating cash flow", "EPS")
TAG = re.compile(r"\(q(\d+)\)")
"""Every question carries its number, so a stored turn names the question it answers."""
LOG_PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback")
PROGRESS_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Asked:
    """One question: its number, thread (channel, thread ts), text and how Slack sends it."""

    number: int
    channel: str
    thread: int
    position: int
    text: str
    mischief: str
    """"plain", "double", "retry" or "twin"."""


@dataclass
class Instance:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    rss_kib: dict[str, int] = field(default_factory=dict)
    peak_kib: int = 0

    def rss(self) -> int:
        """Resident memory now, in KiB (`VmRSS` of /proc)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        kib = int(line.split()[1])
        self.peak_kib = max(self.peak_kib, kib)
        return kib


@dataclass
class Acks:
    """Seconds from sending a delivery to Slack's 200, by kind, and any other status."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def note(self, kind: str, seconds: float, status: str) -> None:
        self.seconds.setdefault(kind, []).append(seconds)
        if " 200 " not in status:
            self.refused.append(f"{kind}: {status.strip()}")

    def all(self) -> list[float]:
        return [s for values in self.seconds.values() for s in values]


def plan_questions(args: argparse.Namespace, rng: random.Random) -> list[list[Asked]]:
    """Each thread's questions, in order; the first opens the thread with a mention."""
    per_thread = [args.questions // args.threads] * args.threads
    for extra in range(args.questions % args.threads):
        per_thread[extra] += 1
    threads: list[list[Asked]] = []
    number = 0
    for thread, count in enumerate(per_thread):
        channel = f"C0SOAK{thread % args.channels:03d}"
        asked = []
        for position in range(count):
            number += 1
            company, metric = rng.choice(COMPANIES), rng.choice(METRICS)
            year = rng.randint(2020, 2024)
            lead = "What was" if position == 0 else "And what about"
            roll = rng.random()
            if roll < args.double:
                mischief = "double"
            elif roll < args.double + args.retry:
                mischief = "retry"
            elif roll < args.double + args.retry + args.twin and position > 0:
                mischief = "twin"
            else:
                mischief = "plain"
            text = f"{lead} {company}'s {metric} in {year}? (q{number})"
            asked.append(Asked(number, channel, thread, position, text, mischief))
        threads.append(asked)
    return threads


class SlackDelivery:
    """Slack's event delivery to the two instances: signed HTTP posts, each on a
    connection of its own (plain asyncio streams: an HTTP client would cost more time per
    request than the ack it measures), retries and double deliveries included."""

    def __init__(self, instances: list[Instance], rng: random.Random) -> None:
        self.instances = instances
        self.rng = rng
        self.acks = Acks()
        self.thread_ts: dict[int, str] = {}
        self.background: set[asyncio.Task[None]] = set()

    async def ask(self, asked: Asked) -> None:
        """Deliver one question; returns once its first delivery (or both, for a double
        delivery) is acknowledged, so the thread's next question is later in Slack's order."""
        if asked.position == 0:
            event = mention(asked.text, channel=asked.channel)
            self.thread_ts[asked.thread] = event["ts"]
        elif asked.mischief == "twin":
            event = mention(asked.text, channel=asked.channel, thread_ts=self._ts(asked))
        else:
            event = message(asked.text, channel=asked.channel, thread_ts=self._ts(asked))
        envelope = json.dumps(event_callback(event))
        if asked.mischief == "double":
            await asyncio.gather(*(self._post(i, envelope, "double") for i in self.instances))
            return
        await self._post(self.rng.choice(self.instances), envelope, "first")
        if asked.mischief == "retry":
            self._later(self._retry(envelope))
        elif asked.mischief == "twin":
            twin = message(
                f"<@{BOT_USER_ID}> {asked.text}",
                ts=event["ts"],
                channel=asked.channel,
                thread_ts=event["thread_ts"],
            )
            twin_envelope = json.dumps(event_callback(twin))
            self._later(self._post(self.rng.choice(self.instances), twin_envelope, "twin"))

    def _ts(self, asked: Asked) -> str:
        return self.thread_ts[asked.thread]

    def _later(self, delivery: Any) -> None:
        task = asyncio.create_task(delivery)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _retry(self, envelope: str) -> None:
        """Slack's retries of an event it thinks unacknowledged: one to three of them."""
        for retry_num in range(1, self.rng.randint(1, 3) + 1):
            await asyncio.sleep(self.rng.uniform(0.2, 3.0))
            await self._post(self.rng.choice(self.instances), envelope, "retry", retry_num)

    async def _post(
        self, instance: Instance, body: str, kind: str, retry_num: int | None = None
    ) -> None:
        parts = urlsplit(instance.url)
        headers = {
            "Host": parts.netloc,
            "Content-Type": "application/json",
            "Content-Length": str(len(body.encode())),
            "Connection": "close",
            **sign(body),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST /slack/events HTTP/1.1\r\n{head}\r\n{body}".encode()
        sent = time.monotonic()
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(request)
        status = (await reader.readline()).decode(errors="replace")
        self.acks.note(kind, time.monotonic() - sent, status)
        writer.close()
        await writer.wait_closed()

    async def finish(self) -> None:
        while self.background:
            await asyncio.gather(*self.background)


def instance_env(
    store_url: str, redis_prefix: str, port: int, urls: StandinURLs, args: argparse.Namespace
) -> dict[str, str]:
    """An instance's environment: the stand-ins' URLs, the shared store, HTTP mode."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DEXTER_", "OPENAI_", "FINANCIAL_", "REDIS_", "DATABASE_"))
    }
    return {
        **clean,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": urls.slack,
        "OPENAI_API_KEY": MODEL_KEY,
        "OPENAI_BASE_URL": urls.model,
        "FINANCIAL_DATASETS_API_KEY": MARKET_DATA_KEY,
        "FINANCIAL_DATASETS_BASE_URL": urls.market_data,
        "DEXTER_STORE_URL": store_url,
        "DEXTER_REDIS_PREFIX": redis_prefix,
        "DEXTER_EMBEDDINGS": args.embeddings,
        "DEXTER_CHARTS": "true" if args.charts else "false",
        "LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def launch(name: str, env: dict[str, str], logs: Path) -> Instance:
    """Start one `app.py`, its output to a log file of its own."""
    log = logs / f"instance-{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            env=env,
            cwd=logs,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Instance(name, process, f"http://127.0.0.1:{env['PORT']}", log)


async def start_instances(
    store_url: str, redis_prefix: str, urls: StandinURLs, logs: Path, args: argparse.Namespace
) -> list[Instance]:
    instances = [
        launch(name, instance_env(store_url, redis_prefix, free_port(), urls, args), logs)
        for name in ("a", "b")
    ]
    for instance in instances:
        await until_serving(instance)
        instance.rss_kib["boot"] = instance.rss()
    return instances


async def until_serving(instance: Instance, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            if instance.process.poll() is not None:
                raise RuntimeError(f"instance {instance.name} exited early; see {instance.log}")
            try:
                if (await client.get(f"{instance.url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"instance {instance.name} did not serve within {within:.0f} s")


def stop_instances(instances: list[Instance], grace: float = 30.0) -> None:
    """SIGTERM (they drain and exit 0), then SIGKILL whatever is still there."""
    for instance in instances:
        if instance.process.poll() is None:
            instance.process.send_signal(signal.SIGTERM)
    for instance in instances:
        try:
            instance.process.wait(grace)
        except subprocess.TimeoutExpired:
            instance.process.kill()
            instance.process.wait()


async def ask_all(threads: list[list[Asked]], delivery: SlackDelivery, duration: float) -> None:
    """Questions in rounds (each thread's first, then each thread's second, …), evenly
    spaced over `duration`; a thread's question waits for its previous one's ack."""
    order = sorted(
        (asked for thread in threads for asked in thread),
        key=lambda asked: (asked.position, delivery.rng.random()),
    )
    interval = duration / max(len(order), 1)
    due = {asked.number: n * interval for n, asked in enumerate(order)}
    started = time.monotonic()

    async def run_thread(thread: list[Asked]) -> None:
        for asked in thread:
            await asyncio.sleep(max(0.0, started + due[asked.number] - time.monotonic()))
            await delivery.ask(asked)

    await asyncio.gather(*(run_thread(thread) for thread in threads))
    await delivery.finish()


class Watch:
    """Polls the Slack stand-in for replies and the instances for memory, every 2 s: notes
    each instance's RSS once `warm_up` answers are in, and prints progress now and then."""

    def __init__(
        self, instances: list[Instance], standins: StandinsProcess, channels: list[str]
    ) -> None:
        self.instances = instances
        self.standins = standins
        self.channels = channels
        self.replies: dict[str, tuple[int, int]] = {}
        self.done = asyncio.Event()

    @property
    def replied(self) -> int:
        """Questions that had their answer or an apology."""
        return sum(answered + failed for answered, failed in self.replies.values())

    async def run(self, questions: int, warm_up: int) -> None:
        started = last_line = time.monotonic()
        while not self.done.is_set():
            self.replies = await asyncio.to_thread(self.standins.replies, self.channels)
            sizes = [instance.rss() for instance in self.instances]
            for instance, size in zip(self.instances, sizes, strict=True):
                if self.replied >= warm_up and "start" not in instance.rss_kib:
                    instance.rss_kib["start"] = size
            if time.monotonic() - last_line >= PROGRESS_SECONDS:
                last_line = time.monotonic()
                memory = ", ".join(
                    f"{i.name} {size / 1024:.0f} MiB"
                    for i, size in zip(self.instances, sizes, strict=True)
                )
                print(
                    f"  {last_line - started:5.0f} s: {self.replied:,}/{questions:,} replied; "
                    f"RSS {memory}",
                    file=sys.stderr,
                    flush=True,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), 2.0)


async def drained(
    store: SessionStore, watch: Watch, session_ids: list[str], questions: int, within: float
) -> float:
    """Wait until every question has a reply and no thread has one waiting in the inbox;
    the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if watch.replied >= questions:
            waiting = await asyncio.gather(*(store.inbox.waiting(s) for s in session_ids))
            if not any(waiting):
                break
        await asyncio.sleep(2.0)
    return time.monotonic() - started


async def tally(
    store: SessionStore,
    threads: list[list[Asked]],
    delivery: SlackDelivery,
    replies: dict[str, tuple[int, int]],
) -> dict[str, Any]:
    """What reached Slack and the store, against what was asked."""
    answers = apologies = duplicates_slack = missing_slack = 0
    duplicates_store = lost = out_of_order = stored = waiting = 0
    for thread in threads:
        ts = delivery.thread_ts.get(thread[0].thread)
        if ts is None:
            lost += len(thread)
            continue
        answered, failed = replies.get(ts, (0, 0))
        answers += answered
        apologies += failed
        duplicates_slack += max(0, answered + failed - len(thread))
        missing_slack += max(0, len(thread) - answered - failed)
        session_id = f"slack:{TEAM_ID}:{thread[0].channel}:{ts}"
        history = await store.load(session_id)
        waiting += len(await store.inbox.waiting(session_id))
        numbers = [int(m.group(1)) for t in history.turns if (m := TAG.search(t.question))]
        stored += len(numbers)
        duplicates_store += len(numbers) - len(set(numbers))
        unstored = len({a.number for a in thread} - set(numbers))
        # an apology tells the asker; a question neither answered nor apologised for is lost
        lost += max(unstored - failed, len(thread) - answered - failed, 0)
        if numbers != sorted(numbers):
            out_of_order += 1
    return {
        "answers": answers,
        "apologies": apologies,
        "duplicates": duplicates_slack + duplicates_store,
        "duplicate_answers_in_slack": duplicates_slack,
        "questions_stored_twice": duplicates_store,
        "lost": lost,
        "unanswered_in_slack": missing_slack,
        "threads_out_of_order": out_of_order,
        "stored_turns": stored,
        "waiting_in_inbox": waiting,
    }


async def store_bytes(kind: str, url: str, prefix: str, sqlite_path: Path | None) -> dict[str, int]:
    """Bytes the run left in the store: the history, and everything."""
    if kind == "redis":
        client = Redis.from_url(url)
        sizes: dict[str, int] = {}
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            kind_of_key = key.decode().removeprefix(f"{prefix}:").split(":", 1)[0]
            used = await client.memory_usage(key, samples=0) or 0
            sizes[kind_of_key] = sizes.get(kind_of_key, 0) + used
        await client.aclose()
        return {
            "history": sizes.get("turns", 0) + sizes.get("meta", 0),
            "all": sum(sizes.values()),
        }
    if kind == "postgres":
        engine = create_store_engine(url)
        schema = urlsplit(url).query.split("search_path=", 1)[1]
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = :schema AND c.relkind = 'r'"
                    ),
                    {"schema": schema},
                )
            ).all()
        await engine.dispose()
        tables = {name: int(size) for name, size in rows}
        return {
            "history": tables.get("turns", 0) + tables.get("sessions", 0),
            "all": sum(tables.values()),
        }
    assert sqlite_path is not None
    files = [sqlite_path, sqlite_path.with_name(sqlite_path.name + "-wal")]
    total = sum(path.stat().st_size for path in files if path.exists())
    return {"history": total, "all": total}


async def clean_up(kind: str, url: str, prefix: str, schema: str) -> None:
    if kind == "redis":
        client = Redis.from_url(url)
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.unlink(*keys[start : start + 500])
        await client.aclose()
    elif kind == "postgres":
        await drop_schema(url, schema)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def log_problems(instances: list[Instance]) -> dict[str, list[str]]:
    """Each instance's logged warnings and errors, at most 20 lines each."""
    problems = {}
    for instance in instances:
        lines = instance.log.read_text(errors="replace").splitlines()
        problems[instance.name] = [line for line in lines if LOG_PROBLEM.search(line)][:20]
    return problems


async def soak(args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    threads = plan_questions(args, rng)
    channels = sorted({thread[0].channel for thread in threads if thread})
    run_id = f"{os.getpid()}-{time.time_ns() % 10**9}"
    prefix, schema = f"soak-{run_id}", f"soak_{run_id.replace('-', '_')}"
    sqlite_path = logs / "soak.db" if args.store == "sqlite" else None
    if args.store == "postgres":
        store_url = await migrated_schema(args.postgres_url, schema)
    elif args.store == "redis":
        store_url = args.redis_url
    else:
        store_url = f"sqlite+aiosqlite:///{sqlite_path}"
    standins = StandinsProcess(args.model_latency)
    urls = standins.start()
    instances: list[Instance] = []
    try:
        instances = await start_instances(store_url, prefix, urls, logs, args)
        store = await open_store(store_url, redis_prefix=prefix)
        delivery = SlackDelivery(instances, rng)
        watch = Watch(instances, standins, channels)
        warm_up = max(1, round(args.questions * args.warm_up))
        watcher = asyncio.create_task(watch.run(args.questions, warm_up))
        started = time.monotonic()
        await ask_all(threads, delivery, args.duration)
        asked_in = time.monotonic() - started
        session_ids = [
            f"slack:{TEAM_ID}:{thread[0].channel}:{delivery.thread_ts[thread[0].thread]}"
            for thread in threads
        ]
        drain = await drained(store, watch, session_ids, args.questions, args.drain)
        await asyncio.sleep(args.settle)
        watch.done.set()
        await watcher
        for instance in instances:
            instance.rss_kib["end"] = instance.rss()
            instance.rss_kib.setdefault("start", instance.rss_kib["boot"])
        replies = await asyncio.to_thread(standins.replies, channels)
        counts = await tally(store, threads, delivery, replies)
        await store.close()
        size = await store_bytes(args.store, store_url, prefix, sqlite_path)
        slack_calls = await asyncio.to_thread(standins.slack_calls)
    finally:
        stop_instances(instances)
        standins.stop()
        server_url = args.redis_url if args.store == "redis" else args.postgres_url
        await clean_up(args.store, server_url, prefix, schema)
    acks = delivery.acks.all()
    turns = max(counts["stored_turns"], 1)
    return {
        "store": args.store,
        "questions": args.questions,
        "threads": args.threads,
        "deliveries": len(acks),
        "deliveries_by_kind": {kind: len(v) for kind, v in delivery.acks.seconds.items()},
        "asked_in_seconds": round(asked_in, 1),
        "drained_in_seconds": round(drain, 1),
        **counts,
        "ack_ms": {
            "p50": round(percentile(acks, 50) * 1e3, 1),
            "p99": round(percentile(acks, 99) * 1e3, 1),
            "max": round(max(acks) * 1e3, 1),
            "mean": round(statistics.fmean(acks) * 1e3, 1),
        },
        "acks_not_200": delivery.acks.refused[:20],
        "rss_mib": {
            i.name: {
                **{when: round(kib / 1024, 1) for when, kib in i.rss_kib.items()},
                "peak": round(i.peak_kib / 1024, 1),
                "growth_percent": round(100 * (i.rss_kib["end"] / i.rss_kib["start"] - 1), 1),
            }
            for i in instances
        },
        "store_bytes_per_turn": {name: round(b / turns) for name, b in size.items()},
        "slack_calls_per_answer": round(
            sum(n for m, n in slack_calls.items() if m != "auth.test") / max(counts["answers"], 1),
            1,
        ),
        "log_problems": log_problems(instances),
        "logs": str(logs),
    }


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    rss = report["rss_mib"]
    memory = " · ".join(
        f"{name} {r['start']:.0f} → {r['end']:.0f} MiB ({r['growth_percent']:+.1f} %)"
        for name, r in rss.items()
    )
    ack = report["ack_ms"]
    per_turn = report["store_bytes_per_turn"]
    load_average = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\nSoak on {report['store']}: {report['questions']:,} questions over "
        f"{report['threads']:,} threads asked in {report['asked_in_seconds']:.0f} s "
        f"(model stand-in {args.model_latency:.1f} s a call), "
        f"{report['deliveries']:,} deliveries ({report['deliveries_by_kind']}); "
        f"{os.cpu_count()} CPUs, load average {load_average}\n"
    )
    print(
        "| store | questions | answers | apologies | duplicates | lost | out of order "
        "| RSS start → end (growth) | ack p50 · p99 · max | bytes/turn history · all "
        "| drained after |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|")
    print(
        f"| {report['store']} | {report['questions']:,} | {report['answers']:,} "
        f"| {report['apologies']} | {report['duplicates']} | {report['lost']} "
        f"| {report['threads_out_of_order']} | {memory} "
        f"| {ack['p50']:.1f} · {ack['p99']:.1f} · {ack['max']:.1f} ms "
        f"| {per_turn['history']:,} · {per_turn['all']:,} "
        f"| {report['drained_in_seconds']:.0f} s |"
    )
    boot = ", ".join(f"{name} {r['boot']:.0f} MiB" for name, r in rss.items())
    peak = ", ".join(f"{name} {r['peak']:.0f} MiB" for name, r in rss.items())
    print(
        f"\nRSS at boot: {boot}; peak: {peak}. "
        f"Slack calls per answer: {report['slack_calls_per_answer']}. "
        f"Still waiting in the inbox: {report['waiting_in_inbox']}."
    )
    for kind in ("acks_not_200",):
        if report[kind]:
            print(f"Acks other than 200: {report[kind]}")
    for name, lines in report["log_problems"].items():
        if lines:
            print(f"Instance {name} logged {len(lines)} warnings or errors (first ones):")
            for line in lines[:5]:
                print(f"    {line}")
    if args.logs:
        print(f"Logs: {report['logs']}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--store", choices=("redis", "postgres", "sqlite"), default="redis")
    parser.add_argument("--redis-url", default=STORE_URLS["redis"])
    parser.add_argument("--postgres-url", default=STORE_URLS["postgres"])
    parser.add_argument("--questions", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=500)
    parser.add_argument("--channels", type=int, default=10, help="threads spread over these")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds to ask them in")
    parser.add_argument("--model-latency", type=float, default=1.0, help="seconds a model call")
    parser.add_argument("--double", type=float, default=0.05, help="share delivered to both")
    parser.add_argument("--retry", type=float, default=0.05, help="share Slack retries")
    parser.add_argument("--twin", type=float, default=0.05, help="share of follow-up twins")
    parser.add_argument("--warm-up", type=float, default=0.1, help="share answered at 'start'")
    parser.add_argument("--drain", type=float, default=900.0, help="seconds to wait for answers")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds for late repeats")
    parser.add_argument("--embeddings", choices=("lexical", "local"), default="local")
    parser.add_argument("--charts", action="store_true", help="let answers post charts")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--logs", type=Path, help="keep the instances' logs here")
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args()
    if args.threads < 1 or args.questions < args.threads:
        parser.error("--questions must be at least --threads, and --threads at least 1")
    with tempfile.TemporaryDirectory(prefix="dexter-soak-") as scratch:
        logs = args.logs or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(soak(args, logs.resolve()))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        print_report(report, args)


if __name__ == "__main__":
    main()
