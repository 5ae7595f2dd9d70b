"""The inbox in SQL: a row per question not yet answered, a row per answering process.

`hold` claims the message and inserts its row in one transaction. `adopt` takes the rows
whose owner is no longer alive; on PostgreSQL they are picked with `FOR UPDATE SKIP
LOCKED`, so processes adopting at the same moment take different questions instead of
queueing on each other's, and no row is handed out twice. SQLite runs one writer at a
time, which gives the same guarantee.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Executable, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stores.models import PendingQuestion, utcnow
from stores.sealing import Sealer, opened_payload, sealed_payload
from stores.sql_engine import unavailable_on_error
from stores.sql_schema import InboxOwner, PendingQuestionRow

ClaimAttempts = Callable[[str, float], list[Executable]]


class SQLInbox:
    """`Inbox` on the database of a `SQLSessionStore`, sharing its engine and claims."""

    def __init__(
        self,
        engine: AsyncEngine,
        url: str,
        *,
        insert: Callable[[Any], Any],
        writing: Callable[[], AbstractAsyncContextManager[Any]],
        claim_attempts: ClaimAttempts,
        sqlite: bool,
        sealer: Sealer | None,
    ) -> None:
        self._sqlite = sqlite
        self._sealer = sealer
        self._engine = engine
        self._url = url
        self._insert = insert
        self._writing = writing
        self._claim_attempts = claim_attempts

    async def hold(self, question: PendingQuestion, ttl: float) -> bool:
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                for attempt in self._claim_attempts(question.key, ttl):
                    if (await conn.execute(attempt)).first() is not None:
                        break
                else:
                    return False
                record = self._insert(PendingQuestionRow).values(
                    key=question.key,
                    session_id=question.session_id,
                    ts=question.ts,
                    owner=question.owner,
                    payload=sealed_payload(self._sealer, question.key, question.payload),
                    received_at=utcnow(),
                )
                # an expired claim taken over may leave its old row: it is the same message
                await conn.execute(record.on_conflict_do_nothing(index_elements=["key"]))
        return True

    async def waiting(self, session_id: str) -> list[PendingQuestion]:
        query = select(
            PendingQuestionRow.key,
            PendingQuestionRow.ts,
            PendingQuestionRow.owner,
            PendingQuestionRow.payload,
        ).where(PendingQuestionRow.session_id == session_id)
        with unavailable_on_error(self._url):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        questions = [
            PendingQuestion(key, session_id, ts, owner, opened_payload(self._sealer, key, payload))
            for key, ts, owner, payload in rows
        ]
        return sorted(questions, key=lambda q: q.order)

    async def settle(self, session_id: str, key: str) -> None:
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                await conn.execute(
                    delete(PendingQuestionRow).where(
                        PendingQuestionRow.key == key, PendingQuestionRow.session_id == session_id
                    )
                )

    async def beat(self, owner: str, ttl: float) -> None:
        alive_until = utcnow() + timedelta(seconds=ttl)
        upsert = self._insert(InboxOwner).values(owner=owner, alive_until=alive_until)
        upsert = upsert.on_conflict_do_update(
            index_elements=["owner"], set_={"alive_until": alive_until}
        )
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                await conn.execute(upsert)

    async def adopt(self, owner: str, limit: int) -> list[PendingQuestion]:
        """On PostgreSQL the orphans are locked `FOR UPDATE SKIP LOCKED`, then their owners
        are checked again: a row another process adopted after this statement's snapshot
        comes back locked with its new, living owner (READ COMMITTED's recheck of a locked
        row does not re-run the liveness subquery reliably), and is left to it. On SQLite,
        one writer at a time, a single UPDATE … RETURNING is enough."""
        alive = select(InboxOwner.owner).where(
            InboxOwner.owner == PendingQuestionRow.owner, InboxOwner.alive_until > utcnow()
        )
        orphaned = ~alive.exists()
        columns = (
            PendingQuestionRow.key,
            PendingQuestionRow.session_id,
            PendingQuestionRow.ts,
            PendingQuestionRow.payload,
        )
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                rows: Sequence[tuple[Any, ...]]
                if self._sqlite:
                    take_over = update(PendingQuestionRow).where(orphaned).values(owner=owner)
                    limited = select(PendingQuestionRow.key).where(orphaned).limit(limit)
                    rows = (
                        await conn.execute(
                            take_over.where(
                                PendingQuestionRow.key.in_(limited.scalar_subquery())
                            ).returning(*columns)
                        )
                    ).all()
                else:
                    rows = await self._lock_and_take(conn, owner, orphaned, limit, columns)
        return [
            PendingQuestion(key, session_id, ts, owner, opened_payload(self._sealer, key, payload))
            for key, session_id, ts, payload in rows
        ]

    async def _lock_and_take(
        self,
        conn: AsyncConnection,
        owner: str,
        orphaned: ColumnElement[bool],
        limit: int,
        columns: tuple[Any, ...],
    ) -> list[tuple[Any, ...]]:
        locked = (
            await conn.execute(
                select(PendingQuestionRow.owner, *columns)
                .where(orphaned)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        living = select(InboxOwner.owner).where(InboxOwner.alive_until > utcnow())
        alive_now = set((await conn.execute(living)).scalars())
        taken = [tuple(row[1:]) for row in locked if row[0] not in alive_now]
        if taken:
            await conn.execute(
                update(PendingQuestionRow)
                .where(PendingQuestionRow.key.in_([row[0] for row in taken]))
                .values(owner=owner)
            )
        return taken

    async def purge(self, older_than: timedelta) -> None:
        """Forget owners gone for good and questions left unanswered for `older_than`."""
        now = utcnow()
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                await conn.execute(delete(InboxOwner).where(InboxOwner.alive_until < now))
                await conn.execute(
                    delete(PendingQuestionRow).where(
                        PendingQuestionRow.received_at < now - older_than
                    )
                )
