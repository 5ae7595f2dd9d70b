"""The inbox in SQL: a row per question not yet answered, a row per answering process.

`hold` claims the message and inserts its row in one transaction. `adopt` is a single
UPDATE … RETURNING over the rows whose owner is no longer alive; on PostgreSQL the rows
are picked with `FOR UPDATE SKIP LOCKED`, so processes adopting at the same moment take
different questions instead of queueing on each other's, and a row another transaction
is adopting is never handed out twice. SQLite runs one writer at a time, which gives the
same guarantee.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from sqlalchemy import Executable, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from stores.models import PendingQuestion, utcnow
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
    ) -> None:
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
                    payload=question.payload,
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
            PendingQuestion(key, session_id, ts, owner, payload) for key, ts, owner, payload in rows
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
        candidate = aliased(PendingQuestionRow)
        alive = select(InboxOwner.owner).where(
            InboxOwner.owner == candidate.owner, InboxOwner.alive_until > utcnow()
        )
        orphans = (
            select(candidate.key)
            .where(~alive.exists())
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        take_over = (
            update(PendingQuestionRow)
            .where(PendingQuestionRow.key.in_(orphans.scalar_subquery()))
            .values(owner=owner)
            .returning(
                PendingQuestionRow.key,
                PendingQuestionRow.session_id,
                PendingQuestionRow.ts,
                PendingQuestionRow.payload,
            )
        )
        with unavailable_on_error(self._url):
            async with self._writing(), self._engine.begin() as conn:
                rows = (await conn.execute(take_over)).all()
        return [
            PendingQuestion(key, session_id, ts, owner, payload)
            for key, session_id, ts, payload in rows
        ]

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
