"""PostgreSQL thread locks as leases: one row of `session_locks` per locked session.

A lease names its holder and when it expires, by the database's clock so that processes
with skewed clocks agree. One upsert takes a free or expired lease; a taker that finds it
live sleeps a short, growing, jittered while and tries again, holding no connection in
between. The holder pushes `expires_at` forward every third of `lock_ttl` and deletes the
row when done, so a lock costs a pooled connection only for those single statements,
however many sessions are locked at once, and a crashed holder's lease expires `lock_ttl`
after its last extension. Cancelling a holder or a taker never cuts one of these
statements short: each runs to its end, and a lease taken for a caller that was cancelled
meanwhile is deleted right after.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Interval, bindparam, delete, func, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.base import describe_failure
from stores.late_release import LateReleases
from stores.sql_engine import unavailable_on_error
from stores.sql_schema import SessionLock

log = logging.getLogger(__name__)

T = TypeVar("T")

LOCK_RETRY_FIRST_SECONDS = 0.02
LOCK_RETRY_MAX_SECONDS = 0.2
"""A taker that finds a session's lease held elsewhere tries again after a jittered pause
that starts at the first and doubles up to the max."""
LOCK_RELEASE_SECONDS = 5.0
"""How long releasing a lease may take; one we could not delete expires within `lock_ttl`."""

_new_lease = postgresql.insert(SessionLock).values(
    session_id=bindparam("lease_session_id"),
    holder=bindparam("lease_holder"),
    expires_at=func.now() + bindparam("lease_ttl", type_=Interval()),
)
_TAKE_LEASE = _new_lease.on_conflict_do_update(
    index_elements=[SessionLock.session_id],
    set_={"holder": _new_lease.excluded.holder, "expires_at": _new_lease.excluded.expires_at},
    where=SessionLock.expires_at < func.now(),
).returning(SessionLock.holder)
"""Insert the lease, or take it over if it has expired; returns the holder only if it did."""
_EXTEND_LEASE = (
    update(SessionLock)
    .where(
        SessionLock.session_id == bindparam("lease_session_id"),
        SessionLock.holder == bindparam("lease_holder"),
    )
    .values(expires_at=func.now() + bindparam("lease_ttl", type_=Interval()))
)
_END_LEASE = delete(SessionLock).where(
    SessionLock.session_id == bindparam("lease_session_id"),
    SessionLock.holder == bindparam("lease_holder"),
)
EXPIRED_LEASES = delete(SessionLock).where(SessionLock.expires_at < func.now())
"""What `purge_expired` deletes besides sessions: leases whose holder crashed."""


@dataclass(frozen=True, slots=True)
class _Lease:
    """One `hold` call's claim on a session's row of `session_locks`."""

    session_id: str
    ttl: timedelta
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def parameters(self) -> dict[str, Any]:
        """The bound parameters of `_TAKE_LEASE`, `_EXTEND_LEASE` and `_END_LEASE`."""
        return {
            "lease_session_id": self.session_id,
            "lease_holder": self.holder,
            "lease_ttl": self.ttl,
        }


class SessionLeases:
    """Leases on one PostgreSQL database, for the SQL store's `lock`."""

    def __init__(self, engine: AsyncEngine, url: str, *, lock_ttl: float) -> None:
        self._engine = engine
        self._url = url
        self._lock_ttl = lock_ttl
        self._statements: set[asyncio.Task[Any]] = set()
        self._late_releases = LateReleases()

    @asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[None]:
        """The session's lease, taken (waiting while another holder has it), kept alive
        while the block runs, and ended after it."""
        lease = _Lease(session_id, timedelta(seconds=self._lock_ttl))
        await self._take(lease)
        extender = asyncio.create_task(self._keep_extending(lease))
        try:
            yield
        finally:
            extender.cancel()
            try:
                await asyncio.wait([extender])
            finally:
                await asyncio.shield(self._uninterrupted(self._end(lease, held=True)))

    async def close(self) -> None:
        """Let lease statements that outlived their cancelled callers finish; stop waiting
        to release leases on a server that is gone (they expire)."""
        await self._late_releases.close()
        if self._statements:
            await asyncio.wait(set(self._statements))

    def _uninterrupted(self, statement: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run a lease statement in a task of its own, which cancelling its caller (who awaits
        it shielded) does not cut short: a statement cut off on the wire leaves unknown whether
        it took or ended a lease, and costs asyncpg a cancel request and the connection."""
        task = asyncio.create_task(statement)
        self._statements.add(task)
        task.add_done_callback(self._statements.discard)
        return task

    async def _take(self, lease: _Lease) -> None:
        """Try until the lease is ours, pausing between tries without holding a connection."""
        pause = LOCK_RETRY_FIRST_SECONDS
        while not await self._try(lease):
            await asyncio.sleep(random.uniform(pause / 2, pause))
            pause = min(2 * pause, LOCK_RETRY_MAX_SECONDS)

    async def _try(self, lease: _Lease) -> bool:
        """One upsert; true if it took the lease. If the caller is cancelled while it runs,
        a lease it took is released once it has finished."""
        attempt = self._uninterrupted(self._upsert(lease))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            self._uninterrupted(self._release_if_taken(attempt, lease))
            raise

    async def _upsert(self, lease: _Lease) -> bool:
        with unavailable_on_error(self._url):
            async with self._engine.begin() as conn:
                holder = await conn.scalar(_TAKE_LEASE, lease.parameters)
        return holder == lease.holder

    async def _release_if_taken(self, attempt: asyncio.Task[bool], lease: _Lease) -> None:
        """End the lease `attempt` may have taken for a caller that was cancelled meanwhile."""
        await asyncio.wait([attempt])
        failure = attempt.exception()
        if failure is None and not attempt.result():
            return
        if failure is not None:
            log.debug(
                "a lock attempt on session %s, whose caller was cancelled, failed: %s",
                lease.session_id,
                failure,
            )
        await self._end(lease, held=False)

    async def _keep_extending(self, lease: _Lease) -> None:
        """Push the lease's expiry `lock_ttl` ahead every third of it, while it is ours."""
        while True:
            await asyncio.sleep(self._lock_ttl / 3)
            extended = await asyncio.shield(self._uninterrupted(self._extend(lease)))
            if extended is False:
                log.warning(
                    "lock of session %s expired and was taken or purged while held; "
                    "stopped extending",
                    lease.session_id,
                )
                return

    async def _extend(self, lease: _Lease) -> bool | None:
        """True if extended, False if the lease is no longer ours, None if the server could
        not be asked (logged; the next extension tries again)."""
        try:
            async with self._engine.begin() as conn:
                return bool((await conn.execute(_EXTEND_LEASE, lease.parameters)).rowcount)
        except (SQLAlchemyError, OSError) as exc:
            log.warning(
                "could not extend the lock of session %s (%s); retrying",
                lease.session_id,
                describe_failure(exc, self._url),
            )
            return None

    async def _end(self, lease: _Lease, *, held: bool) -> None:
        """Delete the lease if it is still ours; never raises. What cannot be deleted now is
        tried again once the server is back (or expires within `lock_ttl`). `held`: we knew
        it was ours, so finding it gone is worth a word."""
        if await self._delete(lease, held=held):
            return
        log.warning(
            "could not release the lock of session %s; trying again until it expires in %.0f s",
            lease.session_id,
            self._lock_ttl,
        )
        self._late_releases.retry(
            lambda: self._delete(lease, held=held),
            within=self._lock_ttl,
            what=f"the lock of session {lease.session_id}",
        )

    async def _delete(self, lease: _Lease, *, held: bool) -> bool:
        """True once the lease is gone (deleted now, or no longer ours), False if the server
        could not be asked."""
        try:
            async with asyncio.timeout(LOCK_RELEASE_SECONDS), self._engine.begin() as conn:
                ended = (await conn.execute(_END_LEASE, lease.parameters)).rowcount
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.debug(
                "releasing session %s: %s", lease.session_id, describe_failure(exc, self._url)
            )
            return False
        if held and not ended:
            log.warning(
                "lock of session %s had expired and been taken or purged before its holder "
                "released it",
                lease.session_id,
            )
        return True
