"""An OpenAI-compatible server for tests: chat completions (tool calls, streaming) and embeddings.

Each request is routed by the agent step its system prompt names ("Dexter · plan step").
A test scripts the replies of a step with `script(step, Reply(...), ...)`; a step with no
script left is answered by an autopilot that behaves like a competent, terse model: it
finds tickers, plans a task per company, calls the tools the request offers and writes an
answer from the data it was given. Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from standins.background import BackgroundServer

API_KEY = "sk-test-standin"
EMBEDDING_DIM = 256

COMPANIES = {
    "apple": "AAPL",
    "microsoft": "MSFT",
    "nvidia": "NVDA",
    "alphabet": "GOOGL",
    "google": "GOOGL",
    "amazon": "AMZN",
    "tesla": "TSLA",
    "jpmorgan": "JPM",
    "jp morgan": "JPM",
    "meta": "META",
}
TICKERS = set(COMPANIES.values())
METRICS = ("revenue", "margin", "net income", "eps", "cash flow", "debt", "price", "news")
STEP = re.compile(r"Dexter · (\w+) step")
WORD = re.compile(r"[a-z0-9]+")
FENCE_LINE = re.compile(r"^</?(?:question|data|answer)>\n?", re.MULTILINE)


@dataclass
class Reply:
    """One scripted reply. `tool_calls` args may be a dict or a raw (even broken) string."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any] | str]] | None = None
    status: int = 200
    delay: float = 0.0
    retry_after: float | None = None


@dataclass
class Recorded:
    step: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    replied: float | None = None

    @property
    def seconds(self) -> float:
        """How long the stand-in took to reply (its scripted delay and latency included)."""
        return (self.replied or self.at) - self.at

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def text(self) -> str:
        """Everything the model was shown, as one string."""
        return "\n".join(str(m.get("content") or "") for m in self.messages)


def step_of(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        if message.get("role") == "system":
            found = STEP.search(str(message.get("content") or ""))
            if found:
                return found.group(1)
    return "other"


def find_tickers(text: str) -> list[str]:
    """Tickers named in `text`, by company name or symbol, in order of appearance."""
    lowered = text.lower()
    found: list[tuple[int, str]] = [
        (lowered.index(name), ticker) for name, ticker in COMPANIES.items() if name in lowered
    ]
    found += [(m.start(), m.group()) for m in re.finditer(r"\b[A-Z]{2,5}\b", text)]
    return list(dict.fromkeys(t for _, t in sorted(found) if t in TICKERS))


def hashed_embedding(text: str) -> list[float]:
    """A deterministic bag-of-words vector: similar wording, similar vector."""
    vector = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    for word in WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "little") % EMBEDDING_DIM] += 1.0
    norm = float(np.linalg.norm(vector)) or 1.0
    return (vector / norm).tolist()


class Autopilot:
    """What the stand-in says when a test scripted nothing for a step."""

    def reply(self, step: str, body: dict[str, Any]) -> Reply:
        messages = body.get("messages", [])
        last_user = next(
            (str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        # read what Dexter fences (<question>…</question>) as a model would: the text inside
        last_user = FENCE_LINE.sub("", last_user).strip()
        handler = getattr(self, f"_{step}", None)
        if handler is None:
            return Reply(content="OK")
        return handler(body, messages, last_user)

    def _understand(self, body: dict, messages: list[dict], question: str) -> Reply:
        tickers = find_tickers(question)
        resolved = question
        if not tickers:
            history = "\n".join(str(m.get("content") or "") for m in messages[1:-1])
            earlier = find_tickers(history)
            tickers = earlier[-1:] if earlier else []
            if tickers:
                resolved = f"{question} (about {tickers[0]})"
        lowered = question.lower()
        reply = {
            "intent": f"research: {question[:80]}",
            "resolved_query": resolved,
            "tickers": tickers,
            "companies": [],
            "periods": re.findall(r"\b(?:FY)?20\d\d\b|\bQ[1-4]\b", question),
            "metrics": [m for m in METRICS if m in lowered],
        }
        return Reply(content=json.dumps(reply))

    def _plan(self, body: dict, messages: list[dict], request: str) -> Reply:
        tickers = find_tickers(request) or ["AAPL"]
        metric = "price" if "price" in request.lower() else "income statements (revenue)"
        tasks = [
            {"id": f"t{i}", "description": f"Get {metric} for {ticker}", "depends_on": []}
            for i, ticker in enumerate(tickers[:4], start=1)
        ]
        if len(tasks) == 1:
            tasks.append(
                {"id": "t2", "description": f"Get key metrics for {tickers[0]}", "depends_on": []}
            )
        return Reply(content=json.dumps({"tasks": tasks}))

    def _execute(self, body: dict, messages: list[dict], request: str) -> Reply:
        if any(m.get("role") == "tool" for m in messages):
            return Reply(content="Done.")
        tools = {t["function"]["name"]: t["function"] for t in body.get("tools", [])}
        tasks = re.findall(r"^\d+\. (.+)$", request, re.MULTILINE) or [request]
        calls: list[tuple[str, dict[str, Any] | str]] = []
        for task in tasks:
            wanted = (
                "metric" if "metric" in task.lower() else "price" if "price" in task else "income"
            )
            name = next((n for n in tools if wanted in n), next(iter(tools), None))
            if name is not None:
                calls += [(name, _arguments_for(tools[name], t)) for t in find_tickers(task)[:3]]
        return Reply(tool_calls=calls) if calls else Reply(content="No tools fit.")

    def _reflect(self, body: dict, messages: list[dict], request: str) -> Reply:
        return Reply(content=json.dumps({"sufficient": True, "missing": []}))

    def _answer(self, body: dict, messages: list[dict], request: str) -> Reply:
        tickers = find_tickers(request.split("Data gathered:")[0]) or ["the company"]
        figures = re.findall(r'"(revenue|net_income|price|market_cap)":\s*([\d.]+)', request)
        lines = [f"- {name.replace('_', ' ')}: {value}" for name, value in figures[:4]]
        body_text = "\n".join(lines) or "- no figures were returned"
        return Reply(content=f"**{', '.join(tickers)}**: here is what the data shows.\n{body_text}")

    def _summary(self, body: dict, messages: list[dict], request: str) -> Reply:
        first = request.strip().splitlines()[0][:160] if request.strip() else "a question"
        return Reply(content=json.dumps({"summary": f"Asked: {first}"}))


def _arguments_for(function: dict[str, Any], ticker: str) -> dict[str, Any]:
    """Fill a tool's required parameters the way a careful model would."""
    schema = function.get("parameters", {})
    properties = schema.get("properties", {})
    args: dict[str, Any] = {}
    for name in schema.get("required", []):
        spec = properties.get(name, {})
        if name == "ticker":
            args[name] = ticker
        elif "enum" in spec:
            args[name] = spec["enum"][0]
        elif spec.get("type") == "integer":
            args[name] = 4
        elif "date" in name:
            args[name] = "2024-01-02" if "start" in name else "2024-12-31"
        else:
            args[name] = spec.get("default", "")
    if "ticker" in properties:
        args["ticker"] = ticker
    return args


class OpenAIStandin:
    """The stand-in's state; its `app` is served by `BackgroundServer`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._recorded: list[Recorded] = []
        self._ids = itertools.count(1)
        self.autopilot = Autopilot()
        self.latency = 0.0
        self.embedding_calls = 0
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self._chat)
        self.app.router.add_post("/v1/embeddings", self._embeddings)
        self.server = BackgroundServer(self.app)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/v1"

    def script(self, step: str, *replies: Reply) -> None:
        """Queue replies for `step` (understand, plan, execute, reflect, answer, summary)."""
        with self._lock:
            self._scripts[step].extend(replies)

    def requests(self, step: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self._recorded if step is None or r.step == step]

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._recorded.clear()
            self.latency = 0.0
            self.embedding_calls = 0

    def _next_reply(self, step: str, body: dict[str, Any]) -> tuple[Reply, Recorded]:
        record = Recorded(step, body)
        with self._lock:
            self._recorded.append(record)
            queue = self._scripts.get(step)
            if queue:
                return queue.popleft(), record
        return self.autopilot.reply(step, body), record

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        reply, record = self._next_reply(step_of(body), body)
        try:
            return await self._reply(request, body, reply)
        finally:
            record.replied = time.monotonic()

    async def _reply(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        await asyncio.sleep(reply.delay + self.latency)
        if reply.status != 200:
            headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after else None
            return _error(reply.status, f"stand-in failure {reply.status}", headers=headers)
        usage = _usage(body, reply)
        completion_id = f"chatcmpl-{next(self._ids)}"
        if body.get("stream"):
            return await self._stream(request, body, reply, usage, completion_id)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if reply.tool_calls:
            message["tool_calls"] = list(_tool_calls(reply))
            finish = "tool_calls"
        return web.json_response(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "standin"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
        )

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        reply: Reply,
        usage: dict[str, int],
        completion_id: str,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "standin"),
        }

        async def send(choices: list[dict[str, Any]], **extra: Any) -> None:
            payload = {**base, "choices": choices, **extra}
            await response.write(f"data: {json.dumps(payload)}\n\n".encode())

        await send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        for piece in re.findall(r"\S+\s*|\s+", reply.content or ""):
            await send([{"index": 0, "delta": {"content": piece}}])
        await send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if (body.get("stream_options") or {}).get("include_usage"):
            await send([], usage=usage)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        with self._lock:
            self.embedding_calls += 1
            self._recorded.append(Recorded("embeddings", body))
        await asyncio.sleep(self.latency)
        data = [
            {"object": "embedding", "index": i, "embedding": hashed_embedding(t)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


def _tool_calls(reply: Reply) -> Iterator[dict[str, Any]]:
    for index, (name, args) in enumerate(reply.tool_calls or []):
        arguments = args if isinstance(args, str) else json.dumps(args)
        yield {
            "id": f"call_{index}_{name}",
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    prompt = len(json.dumps(body.get("messages", []))) // 4
    completion = len(reply.content or "") // 4 + 10 * len(reply.tool_calls or [])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _error(
    status: int, message: str, kind: str = "server_error", headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "code": None}}, status=status, headers=headers
    )


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIStandin]:
    standin = OpenAIStandin()
    standin.server.start()
    yield standin
    standin.server.stop()


@pytest.fixture
def model(openai_server: OpenAIStandin) -> Iterator[OpenAIStandin]:
    """The model stand-in, with scripts and recordings fresh for this test."""
    openai_server.reset()
    yield openai_server
    openai_server.reset()
