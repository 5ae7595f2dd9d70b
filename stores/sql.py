"""Session histories in a SQL database: a SQLite file (the embedded default) or PostgreSQL.

`append` upserts the session row, bumping `turn_count` and returning it (that number is
the new turn's sequence number), and inserts the turn: on PostgreSQL as one statement in
autocommit (the upsert in a CTE), one round trip; on SQLite as a transaction of the two.
The row lock the upsert takes serialises concurrent writers of one session on PostgreSQL;
SQLite serialises all writers itself, and this process's writers also queue on an asyncio
lock so they do not spin on SQLite's busy handler.

`load` and `sessions` are single statements; on PostgreSQL they run on a pool of autocommit
connections, which saves the BEGIN and ROLLBACK round trips of a transaction. `load` reads
the turns as they are: sessions untouched for the retention period are removed by
`purge_expired` (run it periodically), not hidden by `load`.

`lock` on PostgreSQL is a lease, a row of `session_locks` (`stores.sql_lease`); tasks of
one process queue on an in-process lock first, so only one of them polls the database. On
SQLite the lock is that in-process lock alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Executable,
    Insert,
    LargeBinary,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from stores.base import (
    DEFAULT_LOCK_TTL,
    DEFAULT_RETENTION_SECONDS,
    StoreError,
    check_limit,
    check_page,
    redact_url,
)
from stores.codec import CorruptTurn, encode_turn
from stores.keyed_locks import KeyedLocks
from stores.migrate import current_revision, head_revision, upgrade
from stores.models import (
    RATINGS,
    HistoryPage,
    MessageHistory,
    Rating,
    Resealed,
    SessionInfo,
    Source,
    Turn,
    embedding_from_bytes,
    embedding_to_bytes,
    scope_of,
    utcnow,
)
from stores.sealing import (
    SETTING,
    EncryptionKeyError,
    Sealer,
    first_question_place,
    opened,
    opened_first_question,
    opened_turn,
    turn_place,
)
from stores.sql_engine import EngineUse, create_store_engine, is_sqlite, unavailable_on_error
from stores.sql_inbox import SQLInbox
from stores.sql_lease import EXPIRED_LEASES, SessionLeases
from stores.sql_schema import ClaimedEvent, SessionLock, SessionRow, TurnRow

log = logging.getLogger(__name__)

RESEAL_BATCH = 200
"""Rows per transaction of a key rotation: each batch done stays done if the run stops."""

_LATEST_TURNS = (
    select(
        TurnRow.seq,
        TurnRow.created_at,
        TurnRow.user,
        TurnRow.question,
        TurnRow.answer,
        TurnRow.summary,
        TurnRow.embedding,
        TurnRow.question_tokens,
        TurnRow.answer_tokens,
        TurnRow.summary_tokens,
        TurnRow.sources,
        TurnRow.feedback,
        TurnRow.sealed,
    )
    .where(TurnRow.session_id == bindparam("session_id"))
    .order_by(TurnRow.seq.desc())
)
"""Built once, so SQLAlchemy computes its cache key once, not on every load."""
_LATEST_TURNS_UP_TO = _LATEST_TURNS.limit(bindparam("limit"))
_TURNS_BEFORE = _LATEST_TURNS_UP_TO.where(TurnRow.seq < bindparam("before"))
_TURN_COUNT = select(SessionRow.turn_count).where(SessionRow.id == bindparam("session_id"))

_SESSION_INFO = select(
    SessionRow.id,
    SessionRow.first_question,
    SessionRow.sealed_first_question,
    SessionRow.turn_count,
    SessionRow.created_at,
    SessionRow.updated_at,
)
_SESSIONS_OF_SCOPE = (
    _SESSION_INFO.where(SessionRow.scope == bindparam("scope"))
    .order_by(SessionRow.updated_at.desc(), SessionRow.id.desc())
    .limit(bindparam("limit"))
)


_SESSIONS_OF_USER = (
    _SESSION_INFO.where(
        SessionRow.id.in_(
            select(TurnRow.session_id).where(TurnRow.user == bindparam("user")).distinct()
        )
    )
    .order_by(SessionRow.updated_at.desc(), SessionRow.id.desc())
    .limit(bindparam("limit"))
)


def _bump_turn_count(dialect_insert: Any) -> Insert:
    """Create the session row or add one to its `turn_count`, returning the new count.

    `updated_at` never moves backwards, even when a writer that read the clock earlier
    commits later. Built once per dialect, the values bound at each call: building the
    statement and its cache key on every append cost more than SQLite's own work.
    """
    now = bindparam("now", type_=DateTime(timezone=True))
    new_session = dialect_insert(SessionRow).values(
        id=bindparam("session_id"),
        scope=bindparam("scope"),
        first_question=bindparam("first_question"),
        sealed_first_question=bindparam("sealed_first_question", type_=LargeBinary),
        turn_count=1,
        created_at=now,
        updated_at=now,
    )
    return new_session.on_conflict_do_update(
        index_elements=[SessionRow.id],
        set_={
            "turn_count": SessionRow.turn_count + 1,
            "updated_at": case(
                (SessionRow.updated_at > new_session.excluded.updated_at, SessionRow.updated_at),
                else_=new_session.excluded.updated_at,
            ),
        },
    ).returning(SessionRow.turn_count)


_BUMP_SQLITE = _bump_turn_count(sqlite.insert)
_BUMP_POSTGRES = _bump_turn_count(postgresql.insert)
_INSERT_TURN = insert(TurnRow)
_TURN_COLUMNS = [c.name for c in TurnRow.__table__.c if c.name not in ("seq", "feedback")]
_BUMPED = _BUMP_POSTGRES.cte("bumped")
_APPEND_POSTGRES = (
    insert(TurnRow)
    .from_select(
        [*_TURN_COLUMNS, "seq"],
        select(
            *(
                bindparam(f"turn_{name}", type_=TurnRow.__table__.c[name].type)
                for name in _TURN_COLUMNS
            ),
            _BUMPED.c.turn_count,
        ),
    )
    .returning(TurnRow.seq)
)
"""PostgreSQL's append in one statement: the session upsert in a CTE hands its new
`turn_count` to the turn's insert."""


class SQLSessionStore:
    """A `SessionStore` on SQLAlchemy asyncio: `sqlite+aiosqlite` or `postgresql+asyncpg`."""

    def __init__(
        self,
        url: str,
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        sealer: Sealer | None = None,
    ) -> None:
        self.url = redact_url(url)
        self._url = url
        self._sealer = sealer
        self._retention = timedelta(seconds=retention_seconds)
        self._lock_ttl = lock_ttl
        self._engine = create_store_engine(url)
        self._sqlite = is_sqlite(self._engine)
        self._reader = self._engine if self._sqlite else create_store_engine(url, EngineUse.READS)
        self._insert = sqlite.insert if self._sqlite else postgresql.insert
        self._write_lock = asyncio.Lock() if self._sqlite else None
        self._local_locks = KeyedLocks()
        self._leases = None if self._sqlite else SessionLeases(self._engine, url, lock_ttl=lock_ttl)
        self.inbox = SQLInbox(
            self._engine,
            url,
            insert=self._insert,
            writing=self._writing,
            claim_attempts=self._claim_attempts,
            sqlite=self._sqlite,
            sealer=sealer,
        )

    async def prepare(self, *, migrate: bool) -> None:
        """Apply pending migrations, or (with `migrate=False`) check none are pending."""
        with unavailable_on_error(self._url):
            if migrate:
                await upgrade(self._engine)
                return
            current = await current_revision(self._engine)
        head = head_revision()
        if current != head:
            raise StoreError(
                f"the schema of {self.url} is at revision {current}, this code needs {head}: "
                "run `python app.py migrate URL` or open the store with migrate=True"
            )

    async def load(self, session_id: str, limit: int | None = None) -> MessageHistory:
        check_limit(limit)
        if limit == 0:
            return MessageHistory(session_id)
        parameters: dict[str, str | int] = {"session_id": session_id}
        if limit is None:
            query = _LATEST_TURNS
        else:
            query, parameters["limit"] = _LATEST_TURNS_UP_TO, limit
        with unavailable_on_error(self._url):
            async with self._reader.connect() as conn:
                rows = (await conn.execute(query, parameters)).all()
        return MessageHistory(session_id, self._decoded(session_id, reversed(rows)))

    async def page(self, session_id: str, *, limit: int, before: int | None = None) -> HistoryPage:
        """The session's `turn_count`, then the page: two statements on one connection."""
        check_page(limit, before)
        parameters: dict[str, str | int] = {"session_id": session_id, "limit": limit}
        query = _LATEST_TURNS_UP_TO
        if before is not None:
            query, parameters["before"] = _TURNS_BEFORE, before
        with unavailable_on_error(self._url):
            async with self._reader.connect() as conn:
                total = (await conn.execute(_TURN_COUNT, parameters)).scalar_one_or_none() or 0
                rows = (await conn.execute(query, parameters)).all() if total and limit else []
        return HistoryPage(session_id, self._decoded(session_id, rows), total)

    async def append(self, session_id: str, turn: Turn) -> Turn:
        """On PostgreSQL one statement in autocommit, so one round trip: the session upsert
        in a CTE hands its new `turn_count` to the turn's insert. SQLite cannot put an
        upsert in a CTE, so there it is a transaction of the two; so it is with encryption
        at rest, whose seal binds the turn to a seq known only once the upsert returned."""
        bumped = self._bumped(session_id, turn)
        with unavailable_on_error(self._url):
            if not self._sqlite and self._sealer is None:
                values = _turn_values(session_id, 0, turn)
                row = {f"turn_{name}": values[name] for name in _TURN_COLUMNS}
                async with self._reader.connect() as conn:  # autocommit
                    seq = (await conn.execute(_APPEND_POSTGRES, bumped | row)).scalar_one()
                return turn.with_seq(seq)
            bump = _BUMP_SQLITE if self._sqlite else _BUMP_POSTGRES
            async with self._writing(), self._engine.begin() as conn:
                seq = (await conn.execute(bump, bumped)).scalar_one()
                await conn.execute(_INSERT_TURN, self._turn_values(session_id, seq, turn))
        return turn.with_seq(seq)

    def _turn_values(self, session_id: str, seq: int, turn: Turn) -> dict[str, Any]:
        """The row of a turn: its words in the clear columns, or sealed in `sealed`."""
        if self._sealer is None:
            return _turn_values(session_id, seq, turn)
        sealed = self._sealer.seal(encode_turn(turn), turn_place(session_id, seq))
        blank = replace(turn, question="", answer="", summary="", sources=(), embedding=None)
        return _turn_values(session_id, seq, blank) | {"sealed": sealed}

    def _bumped(self, session_id: str, turn: Turn) -> dict[str, Any]:
        """The values of `_bump_turn_count`: the first question sealed, with a sealer."""
        values: dict[str, Any] = {
            "session_id": session_id,
            "scope": scope_of(session_id),
            "first_question": turn.question,
            "sealed_first_question": None,
            "now": utcnow(),
        }
        if self._sealer is not None:
            where = first_question_place(session_id)
            values["first_question"] = ""
            values["sealed_first_question"] = self._sealer.seal(turn.question.encode(), where)
        return values

    async def rate(self, session_id: str, seq: int, rating: Rating) -> bool:
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                rated = await conn.execute(
                    update(TurnRow)
                    .where(TurnRow.session_id == session_id, TurnRow.seq == seq)
                    .values(feedback=rating)
                )
        return rated.rowcount == 1

    async def clear(self, session_id: str) -> int:
        """Delete the session's row and turns; the row is locked first so no append slips by.

        An expired lease of the session goes too; a live one is left to its holder, who
        deletes it on release (or it expires `lock_ttl` after the holder crashed).
        """
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                await conn.execute(
                    select(SessionRow.id).where(SessionRow.id == session_id).with_for_update()
                )
                deleted = await conn.execute(
                    delete(TurnRow).where(TurnRow.session_id == session_id)
                )
                await conn.execute(delete(SessionRow).where(SessionRow.id == session_id))
                if not self._sqlite:
                    await conn.execute(
                        delete(SessionLock).where(
                            SessionLock.session_id == session_id,
                            SessionLock.expires_at < func.now(),
                        )
                    )
        return deleted.rowcount

    async def sessions(self, scope: str, limit: int = 20) -> list[SessionInfo]:
        return await self._listed(_SESSIONS_OF_SCOPE, {"scope": scope, "limit": limit})

    async def sessions_of(self, user: str, limit: int = 20) -> list[SessionInfo]:
        """Sessions `user` asked in (through the index on `turns.user`), newest first."""
        return await self._listed(_SESSIONS_OF_USER, {"user": user, "limit": limit})

    async def _listed(self, query: Executable, parameters: dict[str, Any]) -> list[SessionInfo]:
        with unavailable_on_error(self._url):
            async with self._reader.connect() as conn:
                rows = (await conn.execute(query, parameters)).all()
        return [
            SessionInfo(
                sid,
                self._first_question(sid, first_question, sealed),
                turns,
                _as_utc(created_at),
                _as_utc(updated_at),
            )
            for sid, first_question, sealed, turns, created_at, updated_at in rows
        ]

    def _first_question(self, session_id: str, clear: str, sealed: bytes | None) -> str:
        return clear if sealed is None else opened_first_question(self._sealer, session_id, sealed)

    async def claim_event(self, event_id: str, ttl: float) -> bool:
        """Insert the key, or take it over if its claim has expired; true if either happened.

        On SQLite that is one upsert whose update only applies to an expired claim. On
        PostgreSQL the same upsert would lock the existing row even when the claim is live,
        so every losing claim would write WAL and wait for a disk flush (~4 ms each on a
        plain disk, serialised on the row): there an insert that does nothing on conflict
        comes first, and an update of an expired claim second, so a losing claim writes
        nothing. Racing takeovers of an expired claim are settled by the update's row lock:
        the loser re-reads the row and finds it live.
        """
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                for attempt in self._claim_attempts(event_id, ttl):
                    if (await conn.execute(attempt)).first() is not None:
                        return True
        return False

    def _claim_attempts(self, event_id: str, ttl: float) -> list[Executable]:
        """Statements that each return the key if they claimed it, tried in order."""
        now = utcnow()
        expires_at = now + timedelta(seconds=ttl)
        claim = self._insert(ClaimedEvent).values(key=event_id, expires_at=expires_at)
        if self._sqlite:
            upsert = claim.on_conflict_do_update(
                index_elements=[ClaimedEvent.key],
                set_={"expires_at": claim.excluded.expires_at},
                where=ClaimedEvent.expires_at <= now,
            )
            return [upsert.returning(ClaimedEvent.key)]
        take_over_expired = (
            update(ClaimedEvent)
            .where(ClaimedEvent.key == event_id, ClaimedEvent.expires_at <= now)
            .values(expires_at=expires_at)
        )
        return [
            claim.on_conflict_do_nothing(index_elements=[ClaimedEvent.key]).returning(
                ClaimedEvent.key
            ),
            take_over_expired.returning(ClaimedEvent.key),
        ]

    async def claimed(self, event_id: str) -> bool:
        query = select(ClaimedEvent.key).where(
            ClaimedEvent.key == event_id, ClaimedEvent.expires_at > utcnow()
        )
        with unavailable_on_error(self._url):
            async with self._reader.connect() as conn:
                return (await conn.execute(query)).first() is not None

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        """One holder per session: across processes on PostgreSQL (a lease, see
        `stores.sql_lease`), in this process on SQLite."""
        async with self._local_locks.hold(session_id):
            if self._leases is None:
                yield
                return
            async with self._leases.hold(session_id):
                yield

    async def purge_expired(self) -> int:
        """Delete sessions untouched for the retention period (their turns cascade),
        expired event claims and expired lock leases; returns how many sessions went."""
        now = utcnow()
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                purged = await conn.execute(
                    delete(SessionRow).where(SessionRow.updated_at < now - self._retention)
                )
                await conn.execute(delete(ClaimedEvent).where(ClaimedEvent.expires_at <= now))
                if self._leases is not None:
                    await conn.execute(EXPIRED_LEASES)
        await self.inbox.purge(older_than=self._retention)
        if purged.rowcount:
            log.info(
                "purged %d sessions untouched since %s", purged.rowcount, now - self._retention
            )
        return purged.rowcount

    async def reseal(self) -> Resealed:
        """Batches of `RESEAL_BATCH` rows in key order, each batch one transaction whose
        updates apply only where the row still holds what was read (a clear or a new
        append in between is left alone)."""
        if self._sealer is None:
            raise EncryptionKeyError(f"set {SETTING} to the key to seal with")
        done = Resealed()
        current = self._sealer.current
        stale_turn = or_(TurnRow.sealed.is_(None), func.substr(TurnRow.sealed, 3, 4) != current)
        turns = (
            select(TurnRow.session_id, *_LATEST_TURNS.selected_columns)
            .where(stale_turn)
            .order_by(TurnRow.session_id, TurnRow.seq)
            .limit(RESEAL_BATCH)
        )
        after: tuple[str, int] = ("", 0)
        while rows := await self._read_all(
            turns.where(tuple_(TurnRow.session_id, TurnRow.seq) > after)
        ):
            async with self._writing(), self._engine.begin() as conn:
                for session_id, *row in rows:
                    after = (session_id, row[0])
                    [turn] = self._decoded(session_id, [row]) or [None]
                    if turn is None:
                        done.skipped += 1
                        continue
                    resealed = await conn.execute(
                        update(TurnRow)
                        .where(
                            TurnRow.session_id == session_id,
                            TurnRow.seq == turn.seq,
                            _unchanged(TurnRow.sealed, row[-1]),
                        )
                        .values(self._turn_values(session_id, turn.seq, turn))
                    )
                    done.turns += resealed.rowcount
        sessions = (
            select(SessionRow.id, SessionRow.first_question, SessionRow.sealed_first_question)
            .where(
                or_(
                    SessionRow.sealed_first_question.is_(None),
                    func.substr(SessionRow.sealed_first_question, 3, 4) != current,
                )
            )
            .order_by(SessionRow.id)
            .limit(RESEAL_BATCH)
        )
        last = ""
        while rows := await self._read_all(sessions.where(SessionRow.id > last)):
            async with self._writing(), self._engine.begin() as conn:
                for session_id, clear, sealed in rows:
                    last = session_id
                    where = first_question_place(session_id)
                    try:
                        question = opened(self._sealer, sealed or b"", where).decode() or clear
                    except (CorruptTurn, EncryptionKeyError) as exc:
                        log.warning("not resealing the first question of %s: %s", session_id, exc)
                        done.skipped += 1
                        continue
                    resealed = await conn.execute(
                        update(SessionRow)
                        .where(
                            SessionRow.id == session_id,
                            _unchanged(SessionRow.sealed_first_question, sealed),
                        )
                        .values(
                            first_question="",
                            sealed_first_question=self._sealer.seal(question.encode(), where),
                        )
                    )
                    done.first_questions += resealed.rowcount
        return done

    async def _read_all(self, query: Executable) -> list[Any]:
        with unavailable_on_error(self._url):
            async with self._reader.connect() as conn:
                return list((await conn.execute(query)).all())

    async def ping(self) -> None:
        with unavailable_on_error(self._url):
            async with self._engine.connect() as conn:
                await conn.execute(select(1))

    async def close(self) -> None:
        """Let lease statements that outlived their cancelled callers finish, then disconnect."""
        if self._leases is not None:
            await self._leases.close()
        for engine in {self._engine, self._reader}:
            await engine.dispose()

    def _writing(self) -> asyncio.Lock | nullcontext[None]:
        return self._write_lock if self._write_lock is not None else nullcontext()

    def _decoded(self, session_id: str, rows: Iterable[Any]) -> tuple[Turn, ...]:
        """The turns of `_LATEST_TURNS` rows in their order, skipping (and logging) corrupt
        ones; a sealed turn is opened (`EncryptionKeyError` if no configured key fits)."""
        turns = []
        for *row, sealed in rows:
            try:
                if sealed is None:
                    turns.append(_turn_from_row(*row))
                    continue
                turn = opened_turn(self._sealer, session_id, row[0], sealed)
                turns.append(replace(turn, feedback=_rating(row[-1])))
            except CorruptTurn as exc:
                log.warning("skipping corrupt turn %d of session %s: %s", row[0], session_id, exc)
        return tuple(turns)


def _unchanged(column: Any, value: bytes | None) -> ColumnElement[bool]:
    """The column still holds what a rotation read: it has not been resealed meanwhile."""
    return column.is_(None) if value is None else column == value


def _turn_values(session_id: str, seq: int, turn: Turn) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "seq": seq,
        "created_at": _as_utc(turn.created_at),
        "user": turn.user,
        "question": turn.question,
        "answer": turn.answer,
        "summary": turn.summary,
        "embedding": embedding_to_bytes(turn.embedding),
        "question_tokens": turn.question_tokens,
        "answer_tokens": turn.answer_tokens,
        "summary_tokens": turn.summary_tokens,
        "sources": json.dumps([[s.title, s.url] for s in turn.sources], ensure_ascii=False),
        "sealed": None,
    }


def _turn_from_row(
    seq: int,
    created_at: datetime,
    user: str | None,
    question: str,
    answer: str,
    summary: str,
    embedding: bytes | None,
    question_tokens: int,
    answer_tokens: int,
    summary_tokens: int,
    sources: str,
    feedback: str | None,
) -> Turn:
    """A turn from a row of `_LATEST_TURNS`; raises `CorruptTurn` if a column will not decode."""
    try:
        return Turn(
            question=question,
            answer=answer,
            summary=summary,
            user=user,
            embedding=embedding_from_bytes(embedding),
            question_tokens=question_tokens,
            answer_tokens=answer_tokens,
            summary_tokens=summary_tokens,
            sources=tuple([Source(str(title), str(url)) for title, url in json.loads(sources)]),
            seq=seq,
            created_at=_as_utc(created_at),
            feedback=_rating(feedback),
        )
    except (ValueError, TypeError) as exc:
        raise CorruptTurn(f"{type(exc).__name__}: {exc}") from exc


def _rating(feedback: str | None) -> Rating | None:
    return next((rating for rating in RATINGS if rating == feedback), None)


def _as_utc(moment: datetime) -> datetime:
    """UTC-aware; SQLite hands back the naive UTC text we wrote, asyncpg UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    if moment.tzinfo is UTC:
        return moment
    return moment.astimezone(UTC)
