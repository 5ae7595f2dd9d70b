"""The event stream's framing, keep-alives and final event, on a run we drive by hand."""

from __future__ import annotations

import asyncio
import json
from typing import get_args

from agent.progress import AnswerToken, Done, ErrorEvent, ProgressEvent
from api.errors import RunFailure
from api.runs import AgentRun
from api.sse import EVENT_TYPES, KEEPALIVE, event_stream
from tests.api.conftest import parse_sse


async def test_a_quiet_stream_sends_keep_alives_and_ends_with_its_own_final_event() -> None:
    events: asyncio.Queue[ProgressEvent | None] = asyncio.Queue()
    finish = asyncio.Event()

    async def run() -> RunFailure:
        await finish.wait()
        events.put_nowait(ErrorEvent(kind="store", message="redis://:pw@host is down"))
        events.put_nowait(None)
        return RunFailure(503, "store_unavailable", "Try again shortly.", reference="abcd1234")

    stream = event_stream(AgentRun("api:x", events, asyncio.create_task(run())), keepalive=0.01)
    events.put_nowait(AnswerToken(text="line one\nline two"))
    chunks = [await anext(stream) for _ in range(3)]
    finish.set()
    chunks += [chunk async for chunk in stream]

    assert chunks[1] == chunks[2] == KEEPALIVE
    parsed, comments = parse_sse("".join(chunks).split("\n"))
    assert comments == ["keep-alive", "keep-alive"]
    assert [e.event for e in parsed] == ["answer_token", "error"]
    assert parsed[0].data["text"] == "line one\nline two"
    assert parsed[1].data == {
        "type": "error",
        "error": "store_unavailable",
        "message": "Try again shortly.",
        "reference": "abcd1234",
        "status": 503,
    }
    assert "redis://" not in "".join(chunks)


async def test_the_agents_done_event_is_replaced_by_the_answer() -> None:
    events: asyncio.Queue[ProgressEvent | None] = asyncio.Queue()
    events.put_nowait(Done(seconds=1.0, total_tokens=3, seq=1))
    events.put_nowait(None)

    async def run() -> RunFailure:
        return RunFailure(502, "model_unavailable", "No model.", reference="r")

    agent_run = AgentRun("api:x", events, asyncio.create_task(run()))
    chunks = [chunk async for chunk in event_stream(agent_run)]

    assert len(chunks) == 1 and chunks[0].startswith("event: error\ndata: {")
    assert json.loads(chunks[0].split("data: ", 1)[1])["status"] == 502


def test_the_documented_event_types_are_every_event_the_agent_sends() -> None:
    union = get_args(get_args(ProgressEvent)[0])
    sent = {model.model_fields["type"].default for model in union}

    assert sent == set(EVENT_TYPES)
