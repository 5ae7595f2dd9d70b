"""Progress events: what the agent is doing, as typed values any front end can render.

Slack turns them into a status message, the HTTP API into server-sent events, the
terminal chat into lines. Each event is a pydantic model with a `type` tag, so it
serialises to JSON as is.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from agent.prompts import Task

log = logging.getLogger(__name__)

Phase = Literal["waiting", "understanding", "planning", "executing", "reflecting", "answering"]
"""`waiting`: the thread's lock is taken, by an earlier answer (here or in another process)."""


class PhaseStarted(BaseModel):
    type: Literal["phase"] = "phase"
    phase: Phase
    iteration: int = 1


class PlanReady(BaseModel):
    type: Literal["plan"] = "plan"
    iteration: int
    tasks: list[Task]


class ToolStarted(BaseModel):
    type: Literal["tool_started"] = "tool_started"
    call_id: str
    tool: str
    label: str
    ticker: str | None = None


class ToolFinished(BaseModel):
    type: Literal["tool_finished"] = "tool_finished"
    call_id: str
    tool: str
    label: str
    ticker: str | None = None
    endpoint: str | None = None
    ok: bool
    error: str | None = None
    seconds: float


class TakingLong(BaseModel):
    """The answer has taken `seconds` so far; it will be given up at `deadline` seconds."""

    type: Literal["taking_long"] = "taking_long"
    seconds: float
    deadline: float


class AnswerToken(BaseModel):
    type: Literal["answer_token"] = "answer_token"
    text: str


class Done(BaseModel):
    type: Literal["done"] = "done"
    seconds: float
    total_tokens: int
    seq: int | None = None


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    kind: Literal["model", "store", "tool", "timeout", "internal"]
    message: str


ProgressEvent = Annotated[
    PhaseStarted
    | PlanReady
    | ToolStarted
    | ToolFinished
    | TakingLong
    | AnswerToken
    | Done
    | ErrorEvent,
    Field(discriminator="type"),
]

ProgressCallback = Callable[[ProgressEvent], Awaitable[None] | None]


async def emit(callback: ProgressCallback | None, event: ProgressEvent) -> None:
    """Hand `event` to the front end; a failing front end never fails the research."""
    if callback is None:
        return
    try:
        result = callback(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("progress callback failed on %s event", event.type)
