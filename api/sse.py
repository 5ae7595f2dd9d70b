"""An agent run as server-sent events.

Each event is `event: <type>\\ndata: <one line of JSON>\\n\\n`, the type repeated in the JSON's
`type`. The agent's progress events come as they happen (`phase`, `plan`, `tool_started`,
`tool_finished`, `taking_long` once an answer runs slow, then `answer_token` pieces of the
answer); the stream ends with `done` (the answer, sources, usage per phase, seconds) or
`error` (a human message and the reference id in the log). The agent's own `done` and
`error` events are replaced by these richer ones. While a question waits for the session's
earlier one, comment lines keep proxies from closing the quiet connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agent.progress import ProgressEvent
from api.errors import RunFailure
from api.runs import AgentRun, Outcome
from api.schemas import StreamDone, StreamError

KEEPALIVE_SECONDS = 15.0
KEEPALIVE = ": keep-alive\n\n"
REPLACED_AGENT_EVENTS = {"done", "error"}
EVENT_TYPES = [
    "phase",
    "plan",
    "tool_started",
    "tool_finished",
    "taking_long",
    "answer_token",
    "done",
    "error",
]

# One event of the stream, for the OpenAPI document (OpenAPI 3.2's `itemSchema`).
EVENT_SCHEMA: dict[str, object] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": EVENT_TYPES},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"type": "string", "enum": EVENT_TYPES}},
            },
        },
    },
}


def sse_event(event: ProgressEvent | StreamDone | StreamError) -> str:
    """One event; compact JSON has no raw newline, so `data` is always one line."""
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"


async def event_stream(run: AgentRun, keepalive: float = KEEPALIVE_SECONDS) -> AsyncIterator[str]:
    """The run's events until its end, then `done` or `error`.

    Stopping early (the client went away) leaves the run going: it belongs to `AgentRuns`.
    """
    while True:
        try:
            event = await asyncio.wait_for(run.events.get(), keepalive)
        except TimeoutError:
            yield KEEPALIVE
            continue
        if event is None:
            break
        if event.type not in REPLACED_AGENT_EVENTS:
            yield sse_event(event)
    yield sse_event(final_event(run.session_id, await run.task))


def final_event(session_id: str, outcome: Outcome) -> StreamDone | StreamError:
    if isinstance(outcome, RunFailure):
        return StreamError(**outcome.body(), status=outcome.status)
    return StreamDone.of(session_id, outcome)
