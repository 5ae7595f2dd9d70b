"""Reading what Dexter did in Slack, from the Web API stand-in's records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from standins.slack_api import has_sources
from standins.slack_events import CHANNEL


def is_answer(call: Any) -> bool:
    """A final answer: a message or edit whose blocks end with the sources."""
    return has_sources(call.params.get("blocks"))


def replies_begun(slack: Any) -> int:
    """How many answers Dexter has begun to show: status messages posted, streams started."""
    return len(slack.calls("chat.postMessage")) + len(slack.calls("chat.startStream"))


def answers(slack: Any, thread_ts: str, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """The thread's messages as they stand now that hold an answer."""
    return [
        m
        for m in slack.messages(channel)
        if m.get("thread_ts") == thread_ts and has_sources(m.get("blocks"))
    ]


async def wait_until(condition: Callable[[], object], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
