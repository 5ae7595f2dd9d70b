"""The one contract every session store keeps, and the errors it raises.

Invariants every backend keeps (the contract tests in `tests/stores/` check each):

1. `append` is atomic and append-only: it never rewrites earlier turns, and concurrent
   writers to one session get sequence numbers 1, 2, 3, … with no gap and no duplicate.
2. `load` returns the last `limit` turns oldest first, in one round trip; a corrupt
   stored turn is skipped with a logged warning and never hides the others. `page`
   returns `limit` turns older than a seq, newest first, with the session's total and
   each turn's `feedback`; `rate` records it, false for a turn that does not exist.
3. `clear` removes every trace of a session: turns, summaries, embeddings, index entries.
4. `claim_event` is true exactly once per key until its TTL passes, also under concurrency;
   `claimed` says whether a key is claimed now, and claims nothing.
5. `lock` admits one holder per session at a time; a crashed holder's lock expires.
6. A server that is down raises `StoreUnavailable`; the store recovers when it returns.
7. Sessions untouched for the retention period disappear (TTL or `purge_expired`).
8. `inbox.hold` records a question exactly once per key (it claims the key as
   `claim_event` does); `inbox.adopt` hands each question of an owner that stopped
   beating to exactly one caller.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from stores.models import (
    HistoryPage,
    MessageHistory,
    PendingQuestion,
    Rating,
    Resealed,
    SessionInfo,
    Turn,
)

MAX_REASON_CHARS = 300

# Each store default lives here once; `settings` and `open_store` take them from here.
SECONDS_PER_DAY = 86_400
DEFAULT_RETENTION_DAYS = 30
DEFAULT_RETENTION_SECONDS = DEFAULT_RETENTION_DAYS * SECONDS_PER_DAY
DEFAULT_LOCK_TTL = 60.0
DEFAULT_MAX_SESSIONS = 10_000
DEFAULT_REDIS_PREFIX = "dexter"


class StoreError(Exception):
    """Base of every error a store raises."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached; the URL in the message hides its password."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = redact_url(url)
        self.reason = reason
        super().__init__(f"session store {self.url} is unavailable: {reason}")


class StoreBusy(StoreUnavailable):
    """The server answers, but every pooled connection stayed in use while a call waited:
    this process is overloaded, not cut off. Other processes may be reaching the store."""


class UnsupportedStoreURL(StoreError, ValueError):
    """`open_store` was given a URL whose scheme no backend serves."""


@runtime_checkable
class SessionHistory(Protocol):
    """The turns of sessions: what was asked and answered, kept for the retention period."""

    url: str

    async def load(self, session_id: str, limit: int | None = None) -> MessageHistory: ...

    async def page(
        self, session_id: str, *, limit: int, before: int | None = None
    ) -> HistoryPage: ...

    async def append(self, session_id: str, turn: Turn) -> Turn: ...

    async def rate(self, session_id: str, seq: int, rating: Rating) -> bool: ...

    async def clear(self, session_id: str) -> int: ...

    async def sessions(self, scope: str, limit: int = 20) -> list[SessionInfo]: ...

    async def sessions_of(self, user: str, limit: int = 20) -> list[SessionInfo]: ...

    async def purge_expired(self) -> int: ...


@runtime_checkable
class Coordination(Protocol):
    """What keeps processes sharing a store from doing one piece of work twice."""

    async def claim_event(self, event_id: str, ttl: float) -> bool: ...

    async def claimed(self, event_id: str) -> bool: ...

    def lock(self, session_id: str) -> AbstractAsyncContextManager[None]: ...


@runtime_checkable
class Inbox(Protocol):
    """Questions received and not yet answered, so that none is lost with its process.

    A process `hold`s a question before Slack is acknowledged, `settle`s it once the
    thread has its reply, and `beat`s while it lives; the questions of a process that
    stopped beating (killed, out of memory, its machine gone) are `adopt`ed by another,
    or by itself after a restart under a new owner name. Every method is one round trip,
    but for `hold` on a Redis Cluster (three single-slot steps, see `stores.redis_inbox`).
    """

    async def hold(self, question: PendingQuestion, ttl: float) -> bool: ...

    async def waiting(self, session_id: str) -> list[PendingQuestion]: ...

    async def settle(self, session_id: str, key: str) -> None: ...

    async def beat(self, owner: str, ttl: float) -> None: ...

    async def adopt(self, owner: str, limit: int) -> list[PendingQuestion]: ...


@runtime_checkable
class SessionStore(SessionHistory, Coordination, Protocol):
    """One backend serving both, with a connection to check and close, and the inbox of
    questions on the same server. Every method is safe to call from many tasks at once."""

    @property
    def inbox(self) -> Inbox: ...

    async def reseal(self) -> Resealed:
        """Seal every turn and first question not yet sealed with the first key of
        `DEXTER_ENCRYPTION_KEY`, in batches that each commit: run again after a failure,
        it goes on where it stopped."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def check_limit(limit: int | None) -> None:
    """`load`'s `limit` is None (every turn) or a count of the latest turns, 0 included."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be None or at least 0, not {limit}")


def check_page(limit: int, before: int | None) -> None:
    """`page` takes a count of turns, 0 included, and seqs from 1 (turns with a smaller one)."""
    check_limit(limit)
    if before is not None and before < 1:
        raise ValueError(f"before must be None or at least 1, not {before}")


def describe_failure(exc: BaseException, url: str) -> str:
    """A one-line reason for `StoreUnavailable`: the root cause, without the URL's password.

    Driver messages can be long (SQLAlchemy appends the statement and its parameters, which
    hold users' questions), so we keep the innermost exception's type and first line only.
    """
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    lines = str(root).strip().splitlines()
    reason = f"{type(root).__name__}: {lines[0]}" if lines else type(root).__name__
    password = urlsplit(url).password
    if password:
        reason = reason.replace(password, "***")
    return reason[:MAX_REASON_CHARS]
