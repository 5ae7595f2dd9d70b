"""A running Dexter (uvicorn, Slack's endpoint and the session API on one port) and a client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import uvicorn

from service.configs import slack_config
from service.runtime import Runtime, open_runtime
from service.web import build_web_app
from standins.slack_api import BOT_TOKEN, SlackAPIServer
from standins.slack_events import SIGNING_SECRET
from standins.uvicorn_server import serve
from tests.remembered import Remembered

API_KEY = "test-backend-api-key"
JWT_SECRET = "test-jwt-secret-long-enough-for-hs512-" + "x" * 32
AUTH = {"X-API-Key": API_KEY}
ACCEPT_JSON = {"Accept": "application/json"}


@dataclass
class RunningAPI:
    url: str
    runtime: Runtime
    client: httpx.AsyncClient

    @property
    def remembered(self) -> Remembered:
        return Remembered(self.runtime.research)


@dataclass
class SSEEvent:
    event: str
    data: dict[str, Any]


@dataclass
class SSEStream:
    status: int
    headers: httpx.Headers
    events: list[SSEEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def types(self) -> list[str]:
        return [e.event for e in self.events]

    @property
    def last(self) -> SSEEvent:
        return self.events[-1]


def parse_sse(lines: list[str]) -> tuple[list[SSEEvent], list[str]]:
    """Events as the SSE spec frames them: fields until a blank line, `:` lines are comments."""
    events: list[SSEEvent] = []
    comments: list[str] = []
    name, data = "message", []
    for line in lines:
        if line == "":
            if data:
                events.append(SSEEvent(name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith(":"):
            comments.append(line[1:].strip())
        else:
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
    return events, comments


async def stream_query(client: httpx.AsyncClient, body: dict[str, Any], **kwargs: Any) -> SSEStream:
    """POST /agent/query and read the whole event stream."""
    async with client.stream("POST", "/agent/query", json=body, **kwargs) as response:
        lines = [line async for line in response.aiter_lines()]
    events, comments = parse_sse(lines)
    return SSEStream(response.status_code, response.headers, events, comments)


def make_jwt(
    subject: str | None = "alice",
    *,
    expires_in: float = 300,
    secret: str = JWT_SECRET,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    payload: dict[str, Any] = {"exp": int(time.time() + expires_in), **claims}
    if subject is not None:
        payload["sub"] = subject
    return jwt.encode(payload, secret, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def start_api(
    make_settings: Callable[..., Any], clean_slack_api: SlackAPIServer
) -> AsyncIterator[Callable[..., Any]]:
    """Start Dexter's HTTP server with the API key and JWT secret set (overrides by keyword).

    The client sends no credentials by default; tests pass `headers=AUTH` or a bearer.
    """
    running: list[tuple[uvicorn.Server, asyncio.Task[None], RunningAPI]] = []

    async def start(**overrides: Any) -> RunningAPI:
        values = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": clean_slack_api.url,
            "dexter_store_url": "memory://",
            "backend_api_key": API_KEY,
            "jwt_secret": JWT_SECRET,
            # lexical context selection spares each server the embedding model's start-up;
            # tests about memory ask for `dexter_embeddings="local"`
            "dexter_embeddings": "lexical",
            **overrides,
        }
        settings = make_settings(**values)
        runtime = await open_runtime(settings, slack_config(settings, socket_mode=False))
        app = build_web_app(runtime)
        server, task, url = await serve(app)
        client = httpx.AsyncClient(base_url=url, timeout=30, verify=False)  # plain http
        api = RunningAPI(url, runtime, client)
        running.append((server, task, api))
        return api

    yield start
    for server, task, api in running:
        await api.client.aclose()
        await api.runtime.drain()
        server.should_exit = True
        await task
        await api.runtime.close()


@pytest.fixture
async def api(start_api: Callable[..., Any]) -> RunningAPI:
    """The API with both credentials configured, in its default settings."""
    return await start_api()
