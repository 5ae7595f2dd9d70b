"""Dexter as real processes (`app.py`, HTTP mode) on the stand-ins of the test process."""

from __future__ import annotations

import asyncio
import os
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
from standins.slack_events import SIGNING_SECRET

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
