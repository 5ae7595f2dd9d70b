"""The values every store keeps and returns: turns, histories, session listings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

import numpy as np

Rating = Literal["good", "bad"]
RATINGS: tuple[Rating, ...] = ("good", "bad")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Source:
    """A piece of data an answer cited: what it is and where it came from."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Turn:
    """One question and its answer in a session.

    `seq` is 0 until a store assigns it on `append`; `embedding` is float32 or None.
    """

    question: str
    answer: str
    summary: str = ""
    user: str | None = None
    embedding: np.ndarray | None = field(default=None, compare=False)
    question_tokens: int = 0
    answer_tokens: int = 0
    summary_tokens: int = 0
    sources: tuple[Source, ...] = ()
    seq: int = 0
    created_at: datetime = field(default_factory=utcnow)
    feedback: Rating | None = None
    """What the asker thought of the answer, once they said (`SessionHistory.rate`)."""

    def with_seq(self, seq: int) -> Turn:
        return replace(self, seq=seq)


def embedding_to_bytes(embedding: np.ndarray | None) -> bytes | None:
    """Raw little-endian float32 bytes: 1.5 KB for 384 dimensions, no JSON number lists."""
    if embedding is None:
        return None
    return np.asarray(embedding, dtype="<f4").tobytes()


def embedding_from_bytes(raw: bytes | None) -> np.ndarray | None:
    if not raw:
        return None
    if len(raw) % 4:
        raise ValueError(f"embedding of {len(raw)} bytes is not float32")
    return np.frombuffer(raw, dtype="<f4")


@dataclass(frozen=True, slots=True)
class MessageHistory:
    """A session's turns, oldest first, as one store `load` returned them."""

    session_id: str
    turns: tuple[Turn, ...] = ()

    def __len__(self) -> int:
        return len(self.turns)

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.turns)

    def __bool__(self) -> bool:
        return bool(self.turns)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Some of a session's turns, newest first, and how many the session has in all."""

    session_id: str
    turns: tuple[Turn, ...]
    total: int

    @property
    def has_older(self) -> bool:
        """Whether turns older than this page's oldest remain (seqs run 1, 2, 3, …)."""
        return bool(self.turns) and self.turns[-1].seq > 1


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One line of `/dexter-history`: a session of a scope (a Slack channel, say)."""

    session_id: str
    first_question: str
    turns: int
    created_at: datetime
    updated_at: datetime


def scope_of(session_id: str) -> str:
    """The scope a session is listed under: its id without the last part.

    `slack:T1:C1:1700000000.000100` is listed under `slack:T1:C1`.
    """
    scope, sep, _ = session_id.rpartition(":")
    return scope if sep else ""


@dataclass(slots=True)
class Resealed:
    """What a key rotation (`SessionStore.reseal`) did: values sealed anew with the first
    key (clear or under an older one), and those left as they were because no key opened
    them or they would not decode."""

    turns: int = 0
    first_questions: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class PendingQuestion:
    """A question received and not yet answered, kept in the shared store until it is.

    `key` names the message (one per message, whichever delivery brought it); `ts` is
    Slack's timestamp, the order questions of one session are answered in; `owner` names
    the process answering it; `payload` is what that process needs to answer it, opaque
    to the store.
    """

    key: str
    session_id: str
    ts: str
    owner: str
    payload: str

    @property
    def order(self) -> tuple[int, int]:
        return slack_order(self.ts)


def slack_order(ts: str) -> tuple[int, int]:
    """Slack's timestamp as a sortable pair: "1700000000.000100" is (1700000000, 100).
    Raises `ValueError` for anything else."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction.ljust(6, "0")[:6] or 0)
