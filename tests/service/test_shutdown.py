"""A deploy stops Dexter with SIGTERM: answers in flight finish or are handed back, exit 0.

Dexter runs as a real process (`app.py`, HTTP mode), talking to the Slack, model and
market-data stand-ins of this test process; the signal is a real one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from standins.market_data import API_KEY as MARKET_DATA_KEY
from standins.openai_server import API_KEY as MODEL_KEY
from standins.slack_api import BOT_TOKEN
from standins.slack_events import CHANNEL, SIGNING_SECRET, SlackSender, mention
from tests.bot.observe import answers, wait_until

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def start_process(tmp_path: Path, model, market_data_server, clean_slack_api) -> Iterator[Any]:
    """Start `app.py` on the stand-ins with settings overrides; killed if a test leaves it."""
    started: list[subprocess.Popen[str]] = []

    def start(**overrides: str) -> tuple[subprocess.Popen[str], str]:
        port = free_port()
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "DEXTER_", "OPENAI_", "FINANCIAL_"))
        }
        env = {
            **clean,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": clean_slack_api.url,
            "OPENAI_API_KEY": MODEL_KEY,
            "OPENAI_BASE_URL": model.url,
            "DEXTER_MODEL": "standin-large",
            "FINANCIAL_DATASETS_API_KEY": MARKET_DATA_KEY,
            "FINANCIAL_DATASETS_BASE_URL": market_data_server.url,
            "DEXTER_STORE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dexter.db'}",
            "DEXTER_EMBEDDINGS": "lexical",
            "DEXTER_PROGRESS_INTERVAL": "0.05",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            **overrides,
        }
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process, f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


async def until_serving(process: subprocess.Popen[str], url: str) -> None:
    """Wait until `/healthz` answers; fail at once with its output if the process ended."""
    async with httpx.AsyncClient(timeout=1) as client:
        for _ in range(1200):
            if process.poll() is not None:
                output, _ = process.communicate()
                raise AssertionError(f"Dexter exited early:\n{output}")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("Dexter did not start serving within a minute")


async def ask(url: str, slack, questions: list[str]) -> list[dict[str, Any]]:
    """Mention Dexter with each question in a thread of its own; wait until all are in work."""
    sender = SlackSender(url, slack.response_url())
    events = [mention(question) for question in questions]
    try:
        for event in events:
            assert (await sender.event(event)).status_code == 200
    finally:
        await sender.close()
    await wait_until(lambda: len(slack.calls("chat.postMessage")) >= len(events), within=60)
    return events


def stopped(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def thread_messages(slack, ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(CHANNEL) if m.get("thread_ts") == ts]


async def test_sigterm_lets_answers_in_flight_finish_then_exits_0(
    start_process, model, clean_slack_api
) -> None:
    model.latency = 0.5  # every model call; an answer takes a few seconds
    process, url = start_process(DEXTER_SHUTDOWN_GRACE="120")
    await until_serving(process, url)
    questions = ["What was Apple's revenue in 2023?", "What was Nvidia's revenue in 2024?"]
    events = await ask(url, clean_slack_api, questions)

    code, output = stopped(process)

    assert code == 0, output
    assert "Traceback" not in output
    for event in events:
        assert len(answers(clean_slack_api, event["ts"])) == 1
        shown = json.dumps(thread_messages(clean_slack_api, event["ts"]))
        assert "Researching" not in shown


async def test_sigterm_hands_back_what_the_grace_period_cannot_finish(
    start_process, model, clean_slack_api
) -> None:
    model.latency = 5.0  # no answer can finish within the grace period
    process, url = start_process(DEXTER_SHUTDOWN_GRACE="0.1")
    await until_serving(process, url)
    events = await ask(url, clean_slack_api, ["What was Apple's revenue in 2023?"] * 2)

    code, output = stopped(process)

    assert code == 0, output
    for event in events:
        (status,) = thread_messages(clean_slack_api, event["ts"])  # the status, replaced
        shown = json.dumps(status)
        assert "restarted before it could answer" in shown and "Researching" not in shown
        assert "Try again" in shown
        assert answers(clean_slack_api, event["ts"]) == []
