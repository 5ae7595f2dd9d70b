"""Session histories in this process's memory: for tests, demos and single-process runs.

Bounded two ways so a long-running bot cannot grow without limit: at most `max_sessions`
sessions are kept (the least recently used one is evicted first), and a session untouched
by `append` for `retention_seconds` is dropped when next seen or by `purge_expired`.
Nothing survives a restart and nothing is shared between processes.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from stores.base import (
    DEFAULT_MAX_SESSIONS,
    DEFAULT_RETENTION_SECONDS,
    check_limit,
    check_page,
)
from stores.keyed_locks import KeyedLocks
from stores.models import (
    HistoryPage,
    MessageHistory,
    PendingQuestion,
    Rating,
    Resealed,
    SessionInfo,
    Turn,
    scope_of,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Session:
    first_question: str
    created_at: datetime
    updated_at: datetime
    expires_at: float
    turns: list[Turn] = field(default_factory=list)


class MemorySessionStore:
    """A `SessionStore` in a dict: one process, bounded by an LRU cap and the retention TTL."""

    def __init__(
        self,
        url: str = "memory://",
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.url = url
        self._retention = retention_seconds
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._claims: dict[str, float] = {}
        self._claim_expiries: list[tuple[float, str]] = []
        self._locks = KeyedLocks()
        self.inbox = MemoryInbox(self.claim_event)

    def __len__(self) -> int:
        """How many sessions are kept right now (expired ones included until pruned)."""
        return len(self._sessions)

    async def load(self, session_id: str, limit: int | None = None) -> MessageHistory:
        check_limit(limit)
        session = self._live(session_id)
        if session is None or limit == 0:
            return MessageHistory(session_id)
        turns = session.turns if limit is None else session.turns[-limit:]
        return MessageHistory(session_id, tuple(turns))

    async def page(self, session_id: str, *, limit: int, before: int | None = None) -> HistoryPage:
        check_page(limit, before)
        session = self._live(session_id)
        if session is None:
            return HistoryPage(session_id, (), 0)
        older = session.turns if before is None else session.turns[: max(0, before - 1)]
        shown = older[max(0, len(older) - limit) :] if limit else []
        return HistoryPage(session_id, tuple(reversed(shown)), len(session.turns))

    async def append(self, session_id: str, turn: Turn) -> Turn:
        session = self._live(session_id)
        now = utcnow()
        if session is None:
            session = _Session(turn.question, now, now, 0.0)
            self._sessions[session_id] = session
            self._evict_beyond_cap()
        stored = replace(
            turn, embedding=_read_only_float32(turn.embedding), seq=len(session.turns) + 1
        )
        session.turns.append(stored)
        session.updated_at = now
        session.expires_at = time.monotonic() + self._retention
        return stored

    async def rate(self, session_id: str, seq: int, rating: Rating) -> bool:
        session = self._live(session_id)
        if session is None or not 1 <= seq <= len(session.turns):
            return False
        session.turns[seq - 1] = replace(session.turns[seq - 1], feedback=rating)
        return True

    async def clear(self, session_id: str) -> int:
        session = self._live(session_id)
        if session is None:
            return 0
        del self._sessions[session_id]
        return len(session.turns)

    async def sessions(self, scope: str, limit: int = 20) -> list[SessionInfo]:
        now = time.monotonic()
        found = [
            SessionInfo(sid, s.first_question, len(s.turns), s.created_at, s.updated_at)
            for sid, s in self._sessions.items()
            if s.expires_at > now and scope_of(sid) == scope
        ]
        found.sort(key=lambda info: info.updated_at, reverse=True)
        return found[:limit]

    async def sessions_of(self, user: str, limit: int = 20) -> list[SessionInfo]:
        now = time.monotonic()
        found = [
            SessionInfo(sid, s.first_question, len(s.turns), s.created_at, s.updated_at)
            for sid, s in self._sessions.items()
            if s.expires_at > now and any(turn.user == user for turn in s.turns)
        ]
        found.sort(key=lambda info: info.updated_at, reverse=True)
        return found[:limit]

    async def claim_event(self, event_id: str, ttl: float) -> bool:
        now = time.monotonic()
        self._forget_expired_claims(now)
        if event_id in self._claims:
            return False
        expires_at = now + ttl
        self._claims[event_id] = expires_at
        heapq.heappush(self._claim_expiries, (expires_at, event_id))
        return True

    async def claimed(self, event_id: str) -> bool:
        self._forget_expired_claims(time.monotonic())
        return event_id in self._claims

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        """One holder per session in this process; a holder that dies releases with its task."""
        async with self._locks.hold(session_id):
            yield

    async def reseal(self) -> Resealed:
        """Nothing to do: a memory store keeps nothing at rest."""
        return Resealed()

    async def purge_expired(self) -> int:
        """Drop expired sessions and claims; returns how many sessions went."""
        now = time.monotonic()
        self._forget_expired_claims(now)
        expired = [sid for sid, s in self._sessions.items() if s.expires_at <= now]
        for session_id in expired:
            del self._sessions[session_id]
        return len(expired)

    async def ping(self) -> None:
        """Always reachable: the store is this process."""

    async def close(self) -> None:
        self._sessions.clear()
        self._claims.clear()
        self._claim_expiries.clear()
        self.inbox = MemoryInbox(self.claim_event)

    def _live(self, session_id: str) -> _Session | None:
        """The session if it has not expired, marked most recently used."""
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires_at <= time.monotonic():
            del self._sessions[session_id]
            return None
        self._sessions.move_to_end(session_id)
        return session

    def _evict_beyond_cap(self) -> None:
        while len(self._sessions) > self._max_sessions:
            session_id, _ = self._sessions.popitem(last=False)
            log.debug("memory store full (%d sessions): evicted %s", self._max_sessions, session_id)

    def _forget_expired_claims(self, now: float) -> None:
        expiries = self._claim_expiries
        while expiries and expiries[0][0] <= now:
            expires_at, event_id = heapq.heappop(expiries)
            if self._claims.get(event_id) == expires_at:
                del self._claims[event_id]


class MemoryInbox:
    """The inbox of one process: it lets a single process answer in Slack's order, but
    nothing is kept across a restart (use a shared store for that)."""

    def __init__(self, claim: Callable[[str, float], Awaitable[bool]]) -> None:
        self._claim = claim
        self._questions: dict[str, dict[str, PendingQuestion]] = {}
        self._alive_until: dict[str, float] = {}

    async def hold(self, question: PendingQuestion, ttl: float) -> bool:
        if not await self._claim(question.key, ttl):
            return False
        self._questions.setdefault(question.session_id, {})[question.key] = question
        return True

    async def waiting(self, session_id: str) -> list[PendingQuestion]:
        return sorted(self._questions.get(session_id, {}).values(), key=lambda q: q.order)

    async def settle(self, session_id: str, key: str) -> None:
        questions = self._questions.get(session_id, {})
        questions.pop(key, None)
        if not questions:
            self._questions.pop(session_id, None)

    async def beat(self, owner: str, ttl: float) -> None:
        self._alive_until[owner] = time.monotonic() + ttl

    async def adopt(self, owner: str, limit: int) -> list[PendingQuestion]:
        now = time.monotonic()
        adopted: list[PendingQuestion] = []
        for questions in self._questions.values():
            for key, question in questions.items():
                if len(adopted) == limit:
                    return adopted
                if self._alive_until.get(question.owner, 0.0) <= now:
                    questions[key] = replace(question, owner=owner)
                    adopted.append(questions[key])
        return adopted


def _read_only_float32(embedding: np.ndarray | None) -> np.ndarray | None:
    """A read-only float32 copy, so a caller editing its array cannot edit the history."""
    if embedding is None:
        return None
    copy = np.array(embedding, dtype="<f4")
    copy.flags.writeable = False
    return copy
