"""Slack surface under load: ack latency, time to all answers, the bot's own overhead per turn.

    python -m bench.bot [--threads 200] [--latency 2.0] [--store sqlite|memory|redis|postgres]
                        [--path both|stream|status]

The real app runs under uvicorn; the Slack Web API, the model (answering after
`--latency` seconds per call) and the market data are the test stand-ins, all on
loopback, in a process of their own (`bench.standins_process`) that also plays Slack: it sends
signed `app_mention` events for distinct threads as fast as the app acknowledges them,
`--in-flight` unacknowledged at a time (1: back to back; 200: all at once, where uvicorn
accepting 200 connections at once already costs ~240 ms at p50 on two cores).

- ack latency: from sending an event to Slack's 200, per event;
- time to all answers: from the first event to the last thread's final answer;
- bot overhead per turn: a turn's time (event sent to answer shown in Slack) minus the
  agent's run time: what the Slack layer adds (ack, dedupe, queue, status message,
  rendering, posting the answer);
- agent overhead per turn: the agent's run time minus the time it waited on the model
  along its critical path (each step measured at the stand-in from arrival to reply;
  parallel calls counted once): our own compute, the `openai` SDK's included. Market-data
  calls are served from the tool cache after the first thread and are left in;
- CPU per turn: CPU time of the app's event-loop thread (all of the bot and the agent but
  the embedding model, which runs in a worker thread) divided by the turns;
- Slack calls per answer, by method: what an answer costs against Slack's rate limits, for
  the streamed reply (`chat.startStream` …) and the status-message fallback side by side.

The stand-ins share the machine's two cores with the app, so the wall-clock figures err high.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from agent import AgentResult, ResearchService
from bench.postgres import drop_schema, migrated_schema
from bench.standins_process import StandinsProcess
from service.configs import slack_config
from service.runtime import open_runtime, research_service
from service.web import build_web_app
from settings import load_settings
from standins.market_data import API_KEY as MARKET_DATA_KEY
from standins.openai_server import API_KEY as MODEL_KEY
from standins.slack_api import BOT_TOKEN, TEAM_ID
from standins.slack_events import CHANNEL, SIGNING_SECRET, mention
from standins.uvicorn_server import serve

STORES = {
    "memory": "memory://",
    "redis": "redis://127.0.0.1:6379/14",
    "postgres": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


class TimedResearch(ResearchService):
    """The app's research service, with each answer's wall time noted by session."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seconds: dict[str, float] = {}

    async def answer(
        self, question: str, *, session_id: str | None = None, **kwargs: Any
    ) -> AgentResult:
        started = time.monotonic()
        try:
            return await super().answer(question, session_id=session_id, **kwargs)
        finally:
            self.seconds[session_id or ""] = time.monotonic() - started


async def run(threads: int, latency: float, store: str, in_flight: int, streaming: bool) -> None:
    standins = StandinsProcess(latency)
    urls = standins.start()
    with tempfile.TemporaryDirectory() as scratch:
        store_url = STORES.get(store, f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}")
        if store == "postgres":
            store_url = await migrated_schema(STORES["postgres"], f"bench_bot_{os.getpid()}")
        settings = load_settings(
            _env_file=None,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=urls.slack,
            openai_api_key=MODEL_KEY,
            openai_base_url=urls.model,
            financial_datasets_api_key=MARKET_DATA_KEY,
            financial_datasets_base_url=urls.market_data,
            dexter_store_url=store_url,
            dexter_redis_prefix=f"bench-{time.time_ns()}",
            dexter_streaming=streaming,
            dexter_charts=False,
            log_level="WARNING",
        )
        timed = research_service(settings, TimedResearch)
        runtime = await open_runtime(settings, slack_config(settings, socket_mode=False), timed)
        server, task, url = await serve(build_web_app(runtime))
        events = [
            mention(f"What was Apple's revenue in 2023? (thread {n})") for n in range(threads)
        ]
        try:
            cpu_started = time.thread_time()
            timings = await asyncio.to_thread(standins.send, url, events, in_flight)
            shown, failed = await every_thread_heard_back(standins, threads)
            cpu_per_turn = (time.thread_time() - cpu_started) / threads
        finally:
            await runtime.slack.answerer.drain()  # type: ignore[union-attr]
            server.should_exit = True
            await task
            await runtime.close()
            if store == "redis":
                await purge_redis(settings.dexter_redis_prefix)
            if store == "postgres":
                await drop_schema(STORES["postgres"], f"bench_bot_{os.getpid()}")
    model_waits = standins.model_waits()
    slack_calls = standins.slack_calls()
    standins.stop()

    if failed:
        print(f"{len(failed)} of {threads} threads got an apology instead of an answer")
    events = [event for event in events if event["ts"] in shown]
    acks = [ack for _, ack in timings.values()]
    started = min(sent for sent, _ in timings.values())
    all_done = max(shown.values()) - started
    bot_overheads, agent_overheads = [], []
    for event in events:
        n = int(event["text"].rsplit("(thread ", 1)[1].rstrip(")"))
        agent_seconds = timed.seconds[f"slack:{TEAM_ID}:{CHANNEL}:{event['ts']}"]
        bot_overheads.append(shown[event["ts"]] - timings[event["ts"]][0] - agent_seconds)
        agent_overheads.append(agent_seconds - model_waits[n])
    slack_calls.pop("auth.test", None)
    per_answer = sum(slack_calls.values()) / threads
    by_method = ", ".join(f"{m} {n / threads:.1f}" for m, n in sorted(slack_calls.items()))
    print(
        "| reply | store | threads | in flight | model latency | ack p50 | ack p99 | all answered "
        "| bot overhead/turn p50 · p99 | agent overhead/turn p50 · p99 | CPU/turn "
        "| Slack calls/answer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {'streamed' if streaming else 'status message'} "
        f"| {store} | {threads} | {in_flight} | {latency:.1f} s | {ms(percentile(acks, 50))} "
        f"| {ms(percentile(acks, 99))} | {all_done:.2f} s "
        f"| {ms(percentile(bot_overheads, 50))} · {ms(percentile(bot_overheads, 99))} "
        f"| {ms(percentile(agent_overheads, 50))} · {ms(percentile(agent_overheads, 99))} "
        f"| {ms(cpu_per_turn)} | {per_answer:.1f} ({by_method}) |"
    )


async def every_thread_heard_back(
    standins: StandinsProcess, threads: int, within: float = 900.0
) -> tuple[dict[str, float], set[str]]:
    """Poll the stand-ins until each thread has its answer or an apology."""
    deadline = time.monotonic() + within
    while True:
        shown, failed = await asyncio.to_thread(standins.answers)
        if len(shown) + len(failed) >= threads:
            return shown, failed
        if time.monotonic() > deadline:
            raise TimeoutError(f"{threads - len(shown) - len(failed)} threads never heard back")
        await asyncio.sleep(0.2)


async def purge_redis(prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(STORES["redis"])
    async for key in client.scan_iter(f"{prefix}:*"):
        await client.delete(key)
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=200)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--store", choices=["sqlite", *STORES], default="sqlite")
    parser.add_argument(
        "--in-flight", type=int, default=1, help="unacknowledged events at once (1: back to back)"
    )
    parser.add_argument(
        "--path",
        choices=["both", "stream", "status"],
        default="both",
        help="the streamed reply, the status-message fallback, or one run of each",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for streaming in {"both": (True, False), "stream": (True,), "status": (False,)}[args.path]:
        asyncio.run(run(args.threads, args.latency, args.store, args.in_flight, streaming))


if __name__ == "__main__":
    main()
