"""The SQL tables of `SQLSessionStore`. Migrations in `stores/alembic/` create them.

Timestamps are timezone-aware UTC (`timestamptz` on PostgreSQL; SQLite keeps them as ISO
text, which we always write in UTC so that text order is time order). Sources are JSON
text and embeddings raw little-endian float32 bytes, decoded by the store one row at a
time so that a corrupt row is skipped instead of failing the whole load. With encryption
at rest (`stores.sealing`) a turn's words are in `sealed` instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, MetaData, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SessionRow(Base):
    """One session: listed by scope, newest first; the counter that hands out sequence numbers."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_scope_updated_at", "scope", "updated_at"),
        Index("ix_sessions_updated_at", "updated_at"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    scope: Mapped[str] = mapped_column(Text)
    first_question: Mapped[str] = mapped_column(Text)
    sealed_first_question: Mapped[bytes | None] = mapped_column(LargeBinary)
    turn_count: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TurnRow(Base):
    """One turn; the primary key (session_id, seq) is the unique index loads walk backwards."""

    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_user", "user"),)

    session_id: Mapped[str] = mapped_column(
        Text, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[str | None] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    question_tokens: Mapped[int]
    answer_tokens: Mapped[int]
    summary_tokens: Mapped[int]
    sources: Mapped[str] = mapped_column(Text)
    feedback: Mapped[str | None] = mapped_column(Text)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """With encryption at rest: the turn's words (`stores.codec`, sealed); the text
    columns are then empty and `embedding` NULL."""


class ClaimedEvent(Base):
    """A Slack event id already taken by some process, until `expires_at`."""

    __tablename__ = "claimed_events"
    __table_args__ = (Index("ix_claimed_events_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionLock(Base):
    """A lease on one session's lock: `holder` (a random token of the holding `lock` call)
    has it until `expires_at`, which the holder keeps pushing forward while it is alive.

    PostgreSQL only; SQLite databases have the table but lock within the process. There is
    no index on `expires_at`: the table holds one row per lock held right now, so a purge's
    scan is cheap, while an index would cost every extension an index write (no HOT update).
    """

    __tablename__ = "session_locks"

    session_id: Mapped[str] = mapped_column(Text, primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PendingQuestionRow(Base):
    """A question received and not yet answered (`stores.base.Inbox`), owned by the
    process `owner` while that process's `inbox_owners` row is alive."""

    __tablename__ = "pending_questions"
    __table_args__ = (Index("ix_pending_questions_session_id", "session_id"),)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    session_id: Mapped[str] = mapped_column(Text)
    ts: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InboxOwner(Base):
    """A process answering questions, alive until `alive_until` (which it keeps pushing)."""

    __tablename__ = "inbox_owners"

    owner: Mapped[str] = mapped_column(Text, primary_key=True)
    alive_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
