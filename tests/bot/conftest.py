"""A running Dexter (uvicorn, real Bolt app) wired to the Slack, model and data stand-ins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from service.configs import slack_config
from service.runtime import Runtime, open_runtime
from service.web import build_web_app
from standins.slack_api import BOT_TOKEN, SlackAPIServer
from standins.slack_events import SIGNING_SECRET, SlackSender
from standins.uvicorn_server import serve
from tests.remembered import Remembered


@dataclass
class RunningDexter:
    url: str
    runtime: Runtime
    slack: SlackAPIServer
    send: SlackSender

    @property
    def remembered(self) -> Remembered:
        return Remembered(self.runtime.research)


@pytest.fixture
async def start_dexter(
    make_settings: Callable[..., Any], clean_slack_api: SlackAPIServer
) -> AsyncIterator[Callable[..., Any]]:
    """Start Dexter's HTTP server; settings overrides by keyword. Stopped after the test."""
    running: list[tuple[uvicorn.Server, asyncio.Task[None], RunningDexter]] = []

    async def start(**overrides: Any) -> RunningDexter:
        values = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": clean_slack_api.url,
            "dexter_store_url": "memory://",
            "dexter_progress_interval": 0.05,
            # the status-message path; tests of the streamed answer turn streaming on
            "dexter_streaming": False,
            "dexter_charts": False,  # tests of charts turn them on
            **overrides,
        }
        settings = make_settings(**values)
        runtime = await open_runtime(settings, slack_config(settings, socket_mode=False))
        server, task, url = await serve(build_web_app(runtime))
        dexter = RunningDexter(
            url, runtime, clean_slack_api, SlackSender(url, clean_slack_api.response_url())
        )
        running.append((server, task, dexter))
        return dexter

    yield start
    for server, task, dexter in running:
        await dexter.runtime.slack.answerer.drain()
        server.should_exit = True
        await task
        await dexter.send.close()
        await dexter.runtime.close()
