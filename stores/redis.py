"""Session histories in Redis, shared by every process that points at the same server.

Per session: a list of encoded turns (`stores.codec`) and a meta hash (first question,
created/updated time, turn count); per scope: a sorted set of session ids scored by last
activity. Every multi-key change is one Lua script, so it is atomic and one round trip,
and every key it touches gets the retention TTL again: nothing is ever left without one.
A turn's sequence number is its position in the list (the length `RPUSH` returns), so
concurrent writers get 1, 2, 3, … with no gap and no duplicate.

Key names come from one function per key kind below; `prefix` keeps deployments (and
tests) apart on one server. The scripts touch a session's keys and its scope's index
together, so this layout is for a single Redis server, not Redis Cluster.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockNotOwnedError

from stores.base import (
    DEFAULT_LOCK_TTL,
    DEFAULT_REDIS_PREFIX,
    DEFAULT_RETENTION_SECONDS,
    check_limit,
    check_page,
    describe_failure,
    redact_url,
)
from stores.codec import CorruptTurn, decode_turn, encode_turn
from stores.keyed_locks import KeyedLocks
from stores.late_release import LateReleases
from stores.models import (
    RATINGS,
    HistoryPage,
    MessageHistory,
    Rating,
    SessionInfo,
    Turn,
    scope_of,
)
from stores.redis_inbox import RedisInbox
from stores.redis_keys import (
    SERVER_ERRORS,
    event_key,
    feedback_key,
    lock_key,
    meta_key,
    people_key,
    person_index_key,
    scope_index_key,
    turns_key,
    unavailable_on_error,
)

log = logging.getLogger(__name__)

POOL_SIZE = 32
"""Connections per store; more concurrent calls wait for one instead of opening sockets."""
POOL_WAIT_SECONDS = 10.0
"""How long a call waits for a free connection before the store counts as unavailable."""
SOCKET_TIMEOUT_SECONDS = 5.0
LOCK_POLL_SECONDS = 0.05
"""How often a process waiting for a session lock held elsewhere asks Redis again."""

APPEND_SCRIPT = """
-- KEYS: turns list, meta hash, scope index, feedback hash, and if the turn has a user,
-- the person's index and the session's set of people. ARGV: encoded turn, session id,
-- first question, retention in milliseconds, the user. Returns the turn's seq.
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local retention_ms = tonumber(ARGV[4])
local now_text = string.format('%.6f', now)
local seq = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('HSETNX', KEYS[2], 'first_question', ARGV[3])
redis.call('HSETNX', KEYS[2], 'created_at', now_text)
redis.call('HSET', KEYS[2], 'updated_at', now_text, 'turns', seq)
local indexes = {KEYS[3]}
if #KEYS > 4 then  -- who asked: their index, and the session's people for clearing it
    indexes[2] = KEYS[5]
    redis.call('SADD', KEYS[6], ARGV[5])
end
for _, index in ipairs(indexes) do
    redis.call('ZADD', index, now_text, ARGV[2])
    redis.call('ZREMRANGEBYSCORE', index, '-inf',
               '(' .. string.format('%.6f', now - retention_ms / 1000))
end
for _, key in ipairs(KEYS) do
    redis.call('PEXPIRE', key, retention_ms)
end
return seq
"""

RATE_SCRIPT = """
-- KEYS: turns list, feedback hash. ARGV: seq, rating, retention in milliseconds.
-- Returns 1 if the turn exists (and is now rated), else 0.
local seq = tonumber(ARGV[1])
if seq < 1 or seq > redis.call('LLEN', KEYS[1]) then
    return 0
end
redis.call('HSET', KEYS[2], seq, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""

CLEAR_SCRIPT = """
-- KEYS: turns list, meta hash, scope index, the session's set of people, its feedback
-- hash, then the index of each person. ARGV: session id. Returns how many turns went.
local count = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[4], KEYS[5])
for i = 3, #KEYS do
    if i ~= 4 and i ~= 5 then
        redis.call('ZREM', KEYS[i], ARGV[1])
    end
end
return count
"""


class RedisSessionStore:
    """A `SessionStore` on one Redis server (`redis://` or `rediss://`)."""

    def __init__(
        self,
        url: str,
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        prefix: str = DEFAULT_REDIS_PREFIX,
        lock_ttl: float = DEFAULT_LOCK_TTL,
    ) -> None:
        self.url = redact_url(url)
        self._url = url
        self._prefix = prefix
        self._retention_ms = max(1, round(retention_seconds * 1000))
        self._lock_ttl = lock_ttl
        self._redis = _client(url)
        self._append_script = self._redis.register_script(APPEND_SCRIPT)
        self._clear_script = self._redis.register_script(CLEAR_SCRIPT)
        self._rate_script = self._redis.register_script(RATE_SCRIPT)
        self._local_locks = KeyedLocks()
        self._late_releases = LateReleases()
        self.inbox = RedisInbox(self._redis, url, prefix=prefix, retention_ms=self._retention_ms)

    async def load(self, session_id: str, limit: int | None = None) -> MessageHistory:
        """The latest turns in one round trip: LLEN and LRANGE in one MULTI, so the length
        that numbers them is the list's length at the moment they were read.

        (A Lua script would do too, but copies every turn into Lua and back: twice as slow
        for a hundred turns.)
        """
        check_limit(limit)
        if limit == 0:
            return MessageHistory(session_id)
        key = turns_key(self._prefix, session_id)
        with unavailable_on_error(self._url):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.llen(key)
                pipe.lrange(key, -limit if limit else 0, -1)
                length, raw_turns = await pipe.execute()
        turns = _decoded(session_id, raw_turns, first_seq=length - len(raw_turns) + 1)
        return MessageHistory(session_id, turns)

    async def page(self, session_id: str, *, limit: int, before: int | None = None) -> HistoryPage:
        """LLEN and the page's LRANGE in one MULTI; the turn with seq `n` is entry `n - 1`."""
        check_page(limit, before)
        key = turns_key(self._prefix, session_id)
        wanted = limit > 0 and (before is None or before > 1)
        with unavailable_on_error(self._url):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.llen(key)
                if wanted and before is None:
                    pipe.lrange(key, -limit, -1)
                elif wanted and before is not None:
                    pipe.lrange(key, max(0, before - 1 - limit), before - 2)
                pipe.hgetall(feedback_key(self._prefix, session_id))
                length, *ranges, ratings = await pipe.execute()
        if before is not None and before > length + 1:
            return await self.page(session_id, limit=limit)  # past the end: the newest page
        if not ranges:
            return HistoryPage(session_id, (), length)
        raw_turns = ranges[0]
        last_seq = length if before is None else before - 1
        turns = _decoded(session_id, raw_turns, first_seq=last_seq - len(raw_turns) + 1)
        rated = {int(seq): _text(rating) for seq, rating in ratings.items()}
        turns = tuple(
            replace(turn, feedback=rating)
            if (rating := next((r for r in RATINGS if r == rated.get(turn.seq)), None))
            else turn
            for turn in turns
        )
        return HistoryPage(session_id, turns[::-1], length)

    async def rate(self, session_id: str, seq: int, rating: Rating) -> bool:
        """The rating goes in the session's feedback hash, beside (not inside) the turn."""
        with unavailable_on_error(self._url):
            rated = await self._rate_script(
                keys=[turns_key(self._prefix, session_id), feedback_key(self._prefix, session_id)],
                args=[seq, rating, self._retention_ms],
            )
        return bool(rated)

    async def append(self, session_id: str, turn: Turn) -> Turn:
        args: list[bytes | str | int] = [
            encode_turn(turn),
            session_id,
            turn.question,
            self._retention_ms,
        ]
        keys = [*self._session_keys(session_id), feedback_key(self._prefix, session_id)]
        if turn.user:
            keys += [
                person_index_key(self._prefix, turn.user),
                people_key(self._prefix, session_id),
            ]
            args.append(turn.user)
        with unavailable_on_error(self._url):
            seq = await self._append_script(keys=keys, args=args)
        return turn.with_seq(int(seq))

    async def clear(self, session_id: str) -> int:
        """Delete the session's turns, meta and index entry in one script.

        The session's lock key, if the lock is held right now, is left to its holder, who
        deletes it on release (or it expires `lock_ttl` after the holder crashed).
        """
        people = people_key(self._prefix, session_id)
        with unavailable_on_error(self._url):
            # appends and clears of a session run under its lock, so no one joins between
            asked = await self._redis.smembers(people)
            indexes = [person_index_key(self._prefix, _text(user)) for user in asked]
            deleted = await self._clear_script(
                keys=[
                    *self._session_keys(session_id),
                    people,
                    feedback_key(self._prefix, session_id),
                    *indexes,
                ],
                args=[session_id],
            )
        return int(deleted)

    async def sessions(self, scope: str, limit: int = 20) -> list[SessionInfo]:
        """The scope's sessions active within the retention period, newest first."""
        return await self._listed(scope_index_key(self._prefix, scope), limit)

    async def sessions_of(self, user: str, limit: int = 20) -> list[SessionInfo]:
        """Sessions `user` asked in, newest first; erased ones are skipped (their entry
        in the person's index stays until it expires with the retention period)."""
        return await self._listed(person_index_key(self._prefix, user), limit)

    async def _listed(self, index: str, limit: int) -> list[SessionInfo]:
        """Two round trips: the index, then every listed session's meta hash in one pipeline."""
        cutoff = time.time() - self._retention_ms / 1000
        with unavailable_on_error(self._url):
            members = await self._redis.zrevrangebyscore(index, "+inf", cutoff, start=0, num=limit)
            session_ids = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    pipe.hgetall(meta_key(self._prefix, session_id))
                metas = await pipe.execute()
        found = []
        for session_id, meta in zip(session_ids, metas, strict=True):
            if not meta:
                continue
            try:
                found.append(_session_info(session_id, meta))
            except (KeyError, ValueError) as exc:
                log.warning("skipping corrupt meta of session %s: %r", session_id, exc)
        return found

    async def claim_event(self, event_id: str, ttl: float) -> bool:
        with unavailable_on_error(self._url):
            claimed = await self._redis.set(
                event_key(self._prefix, event_id), b"1", nx=True, px=max(1, round(ttl * 1000))
            )
        return bool(claimed)

    async def claimed(self, event_id: str) -> bool:
        with unavailable_on_error(self._url):
            return bool(await self._redis.exists(event_key(self._prefix, event_id)))

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        """One holder per session across every process using this server.

        The Redis lock expires `lock_ttl` after its holder stops renewing it, so a crashed
        holder frees it; a live holder renews it in the background every third of the TTL.
        Tasks of this process queue on a local lock first, so only one of them polls Redis.
        """
        async with self._local_locks.hold(session_id):
            redis_lock = self._redis.lock(
                lock_key(self._prefix, session_id),
                timeout=self._lock_ttl,
                sleep=LOCK_POLL_SECONDS,
                thread_local=False,
            )
            with unavailable_on_error(self._url):
                await redis_lock.acquire()
            renewer = asyncio.create_task(self._keep_renewing(redis_lock, session_id))
            try:
                yield
            finally:
                renewer.cancel()
                try:
                    await asyncio.wait([renewer])
                finally:
                    await self._release(redis_lock, session_id)

    async def purge_expired(self) -> int:
        """Nothing to do: Redis expires every key by its TTL, and `sessions` skips stale entries."""
        return 0

    async def ping(self) -> None:
        with unavailable_on_error(self._url):
            await self._redis.ping()

    async def close(self) -> None:
        await self._late_releases.close()
        await self._redis.aclose()

    def _session_keys(self, session_id: str) -> list[str]:
        """The keys the append and clear scripts take, in the order they expect them."""
        return [
            turns_key(self._prefix, session_id),
            meta_key(self._prefix, session_id),
            scope_index_key(self._prefix, scope_of(session_id)),
        ]

    async def _keep_renewing(self, redis_lock: Lock, session_id: str) -> None:
        while True:
            await asyncio.sleep(self._lock_ttl / 3)
            try:
                await redis_lock.reacquire()
            except LockNotOwnedError:
                log.warning("lock of session %s expired while held; stopped renewing", session_id)
                return
            except SERVER_ERRORS as exc:
                log.warning(
                    "could not renew lock of session %s (%s); retrying",
                    session_id,
                    describe_failure(exc, self._url),
                )

    async def _release(self, redis_lock: Lock, session_id: str) -> None:
        """Release the lock; if the server cannot be reached, try again once it is back
        (the lock expires by itself within `lock_ttl` in any case)."""
        if await self._try_release(redis_lock, session_id):
            return
        log.warning(
            "could not release the lock of session %s; trying again until it expires in %.0f s",
            session_id,
            self._lock_ttl,
        )
        self._late_releases.retry(
            lambda: self._try_release(redis_lock, session_id),
            within=self._lock_ttl,
            what=f"the lock of session {session_id}",
        )

    async def _try_release(self, redis_lock: Lock, session_id: str) -> bool:
        """True once the lock is released or no longer ours, False if the server is away."""
        try:
            await redis_lock.release()
        except LockNotOwnedError:
            log.warning("lock of session %s had expired before its holder released it", session_id)
        except SERVER_ERRORS as exc:
            log.debug("releasing session %s: %s", session_id, describe_failure(exc, self._url))
            return False
        return True


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _client(url: str) -> Redis:
    """A client that fails fast while the server is down and reconnects once it is back.

    Only connection errors are retried, once: a command that timed out may have run, and
    running an append twice would store the turn twice.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(
            ExponentialWithJitterBackoff(base=0.05, cap=0.5),
            retries=1,
            supported_errors=(RedisConnectionError,),
        ),
    )
    return Redis.from_pool(pool)


def _decoded(session_id: str, raw_turns: list[bytes], *, first_seq: int) -> tuple[Turn, ...]:
    """The turns of consecutive list entries, skipping (and logging) any that will not decode."""
    turns = []
    for seq, raw in enumerate(raw_turns, start=first_seq):
        try:
            turns.append(decode_turn(raw, seq=seq))
        except CorruptTurn as exc:
            log.warning("skipping corrupt turn %d of session %s: %s", seq, session_id, exc)
    return tuple(turns)


def _session_info(session_id: str, meta: dict[bytes, bytes]) -> SessionInfo:
    return SessionInfo(
        session_id=session_id,
        first_question=meta[b"first_question"].decode(),
        turns=int(meta[b"turns"]),
        created_at=datetime.fromtimestamp(float(meta[b"created_at"]), UTC),
        updated_at=datetime.fromtimestamp(float(meta[b"updated_at"]), UTC),
    )
