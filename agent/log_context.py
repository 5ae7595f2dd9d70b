"""What a log line is about: the session and the Slack event being handled.

Set by the front end for the task handling a question (`about`), carried to the research
loop by `ResearchService`, and written by `LOG_FORMAT=json` as fields of each line. The
session is logged as a short hash: its id grants access to an API session.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar

SESSION: ContextVar[str | None] = ContextVar("log_session", default=None)
EVENT: ContextVar[str | None] = ContextVar("log_event", default=None)


def about(session_id: str | None, event: str | None = None) -> None:
    """Label this task's log lines (and those of tasks it starts) with a session and event."""
    SESSION.set(session_hash(session_id) if session_id else None)
    EVENT.set(event)


def current() -> tuple[str | None, str | None]:
    return SESSION.get(), EVENT.get()


def restore(labels: tuple[str | None, str | None]) -> None:
    """The labels `current` returned in another task, for this one."""
    SESSION.set(labels[0])
    EVENT.set(labels[1])


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]
