"""Slack and the other stand-ins (Web API, model, market data) in a process of their own.

A benchmark of the app must not share its interpreter (and GIL) with the servers it
talks to, or with the client that loads it, or it measures them too. The child process
serves the stand-ins, sends Slack's events to the app, and answers questions about what
it saw over a pipe.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

THREAD_TAG = re.compile(r"\(thread (\d+)\)")
SEQUENTIAL_STEPS = ("understand", "plan", "execute", "reflect", "answer")


@dataclass(frozen=True, slots=True)
class StandinURLs:
    slack: str
    slack_response: str
    model: str
    market_data: str


def _serve(conn: Connection, model_latency: float) -> None:
    from standins.market_data import MarketDataServer
    from standins.openai_server import OpenAIStandin
    from standins.slack_api import SlackAPIServer, has_sources

    model, data, slack = OpenAIStandin(), MarketDataServer(), SlackAPIServer()
    model.server.start()
    data.start()
    slack.start()
    model.latency = model_latency
    conn.send(StandinURLs(slack.url, slack.response_url(), model.url, data.url))
    while True:
        command = conn.recv()
        if isinstance(command, tuple) and command[0] == "send":
            _, app_url, events, in_flight = command
            conn.send(asyncio.run(_send_all(app_url, events, in_flight)))
        elif command == "answers":
            # an answer's message: a status message edited, or a stream stopped
            status_of = {
                c.params["thread_ts"]: c.response["ts"]
                for method in ("chat.postMessage", "chat.startStream")  # a stream's ts wins
                for c in slack.calls(method)
                if c.response.get("ok")
            }
            finals = [*slack.calls("chat.update"), *slack.calls("chat.stopStream")]
            shown = {c.params["ts"]: c.time for c in finals if has_sources(c.params.get("blocks"))}
            failed = {
                c.params["ts"]
                for c in finals
                if "Reference" in json.dumps(c.params.get("blocks") or [])
            }
            conn.send(
                (
                    {thread: shown[ts] for thread, ts in status_of.items() if ts in shown},
                    {thread for thread, ts in status_of.items() if ts in failed},
                )
            )
        elif isinstance(command, tuple) and command[0] == "replies":
            conn.send(_replies(slack, command[1]))
        elif command == "slack_calls":
            counts: dict[str, int] = {}
            for call in slack.calls():
                counts[call.method] = counts.get(call.method, 0) + 1
            conn.send(counts)
        elif command == "model_waits":
            conn.send(_model_waits(model.requests()))
        else:
            break
    for server in (slack, data):
        server.stop()
    model.server.stop()


async def _send_all(
    app_url: str, events: list[dict[str, Any]], in_flight: int
) -> dict[str, tuple[float, float]]:
    """Send the events as fast as the app acks them, at most `in_flight` unanswered at
    once (1: each after the previous ack; `len(events)`: all at once); (sent at, ack
    seconds) by message ts.

    Requests are signed and serialised before the clock starts, and each goes out on a
    connection of its own with plain asyncio streams: a full HTTP client would spend more
    time per request than the app it measures.
    """
    from standins.slack_events import event_callback, sign

    host, port = urlsplit(app_url).hostname, urlsplit(app_url).port
    prepared = []
    for event in events:
        body = json.dumps(event_callback(event))
        headers = {
            "Host": f"{host}:{port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body.encode())),
            "Connection": "close",
            **sign(body),
        }
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        prepared.append((event["ts"], f"POST /slack/events HTTP/1.1\r\n{head}\r\n{body}".encode()))
    timings: dict[str, tuple[float, float]] = {}
    slots = asyncio.Semaphore(in_flight)

    async def send(ts: str, request: bytes) -> None:
        async with slots:
            await deliver(ts, request)

    async def deliver(ts: str, request: bytes) -> None:
        sent = time.monotonic()
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request)
        status = await reader.readline()
        timings[ts] = (sent, time.monotonic() - sent)
        writer.close()
        if b" 200 " not in status:
            raise RuntimeError(f"the app answered {status!r}")

    await asyncio.gather(*(send(ts, request) for ts, request in prepared))
    return timings


def _replies(slack: Any, channels: list[str]) -> dict[str, tuple[int, int]]:
    """Each thread's replies as its messages stand now, by thread ts: (answers, apologies).
    An answer holds its sources; an apology, its reference id."""
    from standins.slack_api import has_sources

    replies: dict[str, tuple[int, int]] = {}
    for channel in channels:
        for posted in slack.messages(channel):
            thread = posted.get("thread_ts")
            if thread is None or posted.get("bot_id") is None:
                continue
            answered = has_sources(posted.get("blocks"))
            failed = not answered and "Reference" in json.dumps(posted.get("blocks") or [])
            if answered or failed:
                answers, apologies = replies.get(thread, (0, 0))
                replies[thread] = (answers + answered, apologies + failed)
    return replies


def _model_waits(requests: list[Any]) -> dict[int, float]:
    """Seconds each tagged thread waited on the model: steps in sequence, parallel once."""
    steps: dict[int, dict[str, float]] = defaultdict(dict)
    for request in requests:
        tag = THREAD_TAG.search(request.text)
        if tag and request.step in SEQUENTIAL_STEPS:
            thread = steps[int(tag.group(1))]
            thread[request.step] = max(thread.get(request.step, 0.0), request.seconds)
    return {thread: sum(by_step.values()) for thread, by_step in steps.items()}


class StandinsProcess:
    """Start with `start()`; ask with `answers()` / `model_waits()`; `stop()` at the end."""

    def __init__(self, model_latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, model_latency), daemon=True)
        self.urls: StandinURLs | None = None

    def start(self) -> StandinURLs:
        self._process.start()
        self.urls = self._conn.recv()
        return self.urls

    def send(
        self, app_url: str, events: list[dict[str, Any]], in_flight: int
    ) -> dict[str, tuple[float, float]]:
        """Deliver `events` to the app (see `_send_all`); (sent at, ack seconds) by ts."""
        self._conn.send(("send", app_url, events, in_flight))
        return self._conn.recv()

    def answers(self) -> tuple[dict[str, float], set[str]]:
        """When each thread's answer reached Slack (monotonic clock), by thread ts; and the
        threads that got an apology instead."""
        self._conn.send("answers")
        return self._conn.recv()

    def replies(self, channels: list[str]) -> dict[str, tuple[int, int]]:
        """Each thread's (answers, apologies) in `channels` now, by thread ts."""
        self._conn.send(("replies", channels))
        return self._conn.recv()

    def slack_calls(self) -> dict[str, int]:
        """How many calls of each Slack method the app made."""
        self._conn.send("slack_calls")
        return self._conn.recv()

    def model_waits(self) -> dict[int, float]:
        self._conn.send("model_waits")
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(10)
