"""Session histories in Redis, shared by every process that points at the same server or
cluster.

Per session: a list of encoded turns (`stores.codec`), a meta hash (first question,
created/updated time, turn count), a feedback hash and the set of people who asked; per
scope and per person: a sorted set of session ids scored by last activity. A session's
own keys change together in one Lua script, atomic and one round trip, and every key a
write touches gets the retention TTL again: nothing is ever left without one. A turn's
sequence number is its position in the list (the length `RPUSH` returns), so concurrent
writers get 1, 2, 3, … with no gap and no duplicate.

On a single server the scripts update the scope and person indexes too, in the same step.
On Redis Cluster (`redis+cluster://`) those indexes live in other slots, so each script
touches the session's slot alone and the indexes change by commands of their own, in an
order that keeps the contract whatever fails in between (`append`, `clear`). Key names
come from `RedisKeys`.
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
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockNotOwnedError

from stores.base import (
    DEFAULT_LOCK_TTL,
    DEFAULT_REDIS_PREFIX,
    DEFAULT_RETENTION_SECONDS,
    StoreError,
    StoreUnavailable,
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
    Resealed,
    SessionInfo,
    Turn,
    scope_of,
)
from stores.redis_cluster import cluster_client, is_cluster_url
from stores.redis_inbox import RedisInbox
from stores.redis_keys import SERVER_ERRORS, RedisKeys, unavailable_on_error
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

log = logging.getLogger(__name__)

POOL_SIZE = 32
"""Connections per store; more concurrent calls wait for one instead of opening sockets."""
POOL_WAIT_SECONDS = 10.0
"""How long a call waits for a free connection before the store counts as unavailable."""
SOCKET_TIMEOUT_SECONDS = 5.0
SEALED_APPEND_ATTEMPTS = 10
"""Appends that may race a sealed one to the same seq before it gives up (appends of a
thread run under its lock, so one attempt is the rule)."""
LOCK_POLL_SECONDS = 0.05
"""How often a process waiting for a session lock held elsewhere asks Redis again."""

TOUCH_INDEX = """
local function touch_index(index, member, now, retention_ms)
    local now_text = string.format('%.6f', now)
    redis.call('ZADD', index, now_text, member)
    redis.call('ZREMRANGEBYSCORE', index, '-inf',
               '(' .. string.format('%.6f', now - retention_ms / 1000))
    redis.call('PEXPIRE', index, retention_ms)
end
local function server_time()
    local time = redis.call('TIME')
    return tonumber(time[1]) + tonumber(time[2]) / 1000000
end
"""
"""Lua shared by the scripts that list a session in a sorted set scored by its last
activity, dropping the entries older than the retention period on the way."""

APPEND_SCRIPT = (
    TOUCH_INDEX
    + """
-- KEYS: turns list, meta hash, feedback hash, the session's set of people, then the
-- indexes to list the session in (none on a cluster, where they are in other slots).
-- ARGV: encoded turn, session id, first question, retention ms, the user or '', and the
-- seq the turn was sealed for or 0. Returns the turn's seq, or minus the seq it would
-- have had when that is not the one it was sealed for (then nothing is written).
local expected = tonumber(ARGV[6])
if expected > 0 then
    local next_seq = redis.call('LLEN', KEYS[1]) + 1
    if next_seq ~= expected then
        return -next_seq
    end
end
local now = server_time()
local retention_ms = tonumber(ARGV[4])
local now_text = string.format('%.6f', now)
local seq = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('HSETNX', KEYS[2], 'first_question', ARGV[3])
redis.call('HSETNX', KEYS[2], 'created_at', now_text)
redis.call('HSET', KEYS[2], 'updated_at', now_text, 'turns', seq)
if ARGV[5] ~= '' then  -- who asked, so that clearing the session finds their index
    redis.call('SADD', KEYS[4], ARGV[5])
end
for i = 5, #KEYS do
    touch_index(KEYS[i], ARGV[2], now, retention_ms)
end
for i = 1, 4 do
    redis.call('PEXPIRE', KEYS[i], retention_ms)
end
return seq
"""
)

INDEX_SCRIPT = (
    TOUCH_INDEX
    + """
-- KEYS: one index. ARGV: session id, retention ms. On a cluster, after the append script.
touch_index(KEYS[1], ARGV[1], server_time(), tonumber(ARGV[2]))
return 1
"""
)

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

RESEAL_SCRIPT = """
-- KEYS: turns list, meta hash. ARGV: 'turn' or 'first question', the turn's list index,
-- the value as read, the value resealed. Replaces it only if it is still the value read.
-- Returns 1 if it did, else 0.
if ARGV[1] == 'turn' then
    if redis.call('LINDEX', KEYS[1], ARGV[2]) ~= ARGV[3] then
        return 0
    end
    redis.call('LSET', KEYS[1], ARGV[2], ARGV[4])
    return 1
end
if redis.call('HGET', KEYS[2], 'first_question') ~= ARGV[3] then
    return 0
end
redis.call('HSET', KEYS[2], 'first_question', ARGV[4])
return 1
"""

CLEAR_SCRIPT = """
-- KEYS: turns list, meta hash, feedback hash, the session's set of people, then the
-- indexes that list it (none on a cluster, where they were emptied of it before).
-- ARGV: session id. Returns how many turns went.
local count = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
for i = 5, #KEYS do
    redis.call('ZREM', KEYS[i], ARGV[1])
end
return count
"""


class RedisSessionStore:
    """A `SessionStore` on one Redis server (`redis://`, `rediss://`) or on a Redis Cluster
    (`redis+cluster://`, `rediss+cluster://`)."""

    def __init__(
        self,
        url: str,
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        prefix: str = DEFAULT_REDIS_PREFIX,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        sealer: Sealer | None = None,
    ) -> None:
        self.url = redact_url(url)
        self._url = url
        self._sealer = sealer
        self._cluster = is_cluster_url(url)
        self._keys = RedisKeys(prefix, cluster=self._cluster)
        self._retention_ms = max(1, round(retention_seconds * 1000))
        self._lock_ttl = lock_ttl
        self._redis = _client(url)
        self._append_script = self._redis.register_script(APPEND_SCRIPT)
        self._index_script = self._redis.register_script(INDEX_SCRIPT)
        self._clear_script = self._redis.register_script(CLEAR_SCRIPT)
        self._rate_script = self._redis.register_script(RATE_SCRIPT)
        self._local_locks = KeyedLocks()
        self._late_releases = LateReleases()
        self._reseal_script = self._redis.register_script(RESEAL_SCRIPT)
        self.inbox = RedisInbox(
            self._redis,
            url,
            self._keys,
            retention_ms=self._retention_ms,
            lock_ttl=lock_ttl,
            sealer=sealer,
        )

    async def load(self, session_id: str, limit: int | None = None) -> MessageHistory:
        """The latest turns in one round trip: LLEN and LRANGE in one MULTI, so the length
        that numbers them is the list's length at the moment they were read.

        (A Lua script would do too, but copies every turn into Lua and back: twice as slow
        for a hundred turns.)
        """
        check_limit(limit)
        if limit == 0:
            return MessageHistory(session_id)
        key = self._keys.turns(session_id)
        with unavailable_on_error(self._url):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.llen(key)
                pipe.lrange(key, -limit if limit else 0, -1)
                length, raw_turns = await pipe.execute()
        turns = self._decoded(session_id, raw_turns, first_seq=length - len(raw_turns) + 1)
        return MessageHistory(session_id, turns)

    async def page(self, session_id: str, *, limit: int, before: int | None = None) -> HistoryPage:
        """LLEN and the page's LRANGE in one MULTI; the turn with seq `n` is entry `n - 1`."""
        check_page(limit, before)
        key = self._keys.turns(session_id)
        wanted = limit > 0 and (before is None or before > 1)
        with unavailable_on_error(self._url):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.llen(key)
                if wanted and before is None:
                    pipe.lrange(key, -limit, -1)
                elif wanted and before is not None:
                    pipe.lrange(key, max(0, before - 1 - limit), before - 2)
                pipe.hgetall(self._keys.feedback(session_id))
                length, *ranges, ratings = await pipe.execute()
        if before is not None and before > length + 1:
            return await self.page(session_id, limit=limit)  # past the end: the newest page
        if not ranges:
            return HistoryPage(session_id, (), length)
        raw_turns = ranges[0]
        last_seq = length if before is None else before - 1
        turns = self._decoded(session_id, raw_turns, first_seq=last_seq - len(raw_turns) + 1)
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
                keys=[self._keys.turns(session_id), self._keys.feedback(session_id)],
                args=[seq, rating, self._retention_ms],
            )
        return bool(rated)

    async def append(self, session_id: str, turn: Turn) -> Turn:
        """One script over the session's keys; on a cluster, the indexes after it.

        The turn is the truth and the indexes only find it, so on a cluster it is stored
        first: if listing it then fails, the session stays unlisted until its next turn,
        and `clear` still finds every index it might be in through the session's people.
        """
        indexes = [self._keys.scope_index(scope_of(session_id))]
        if turn.user:
            indexes.append(self._keys.person_index(turn.user))
        keys = [*self._session_keys(session_id), *([] if self._cluster else indexes)]
        encoded = encode_turn(turn)
        with unavailable_on_error(self._url):
            if self._sealer is None:
                args: list[bytes | str | int] = [
                    encoded,
                    session_id,
                    turn.question,
                    self._retention_ms,
                    turn.user or "",
                    0,
                ]
                seq = int(await self._append_script(keys=keys, args=args))
            else:
                seq = await self._append_sealed(self._sealer, keys, session_id, turn, encoded)
        stored = turn.with_seq(seq)
        if self._cluster:
            await self._list_in(indexes, session_id)
        return stored

    async def _append_sealed(
        self, sealer: Sealer, keys: list[str], session_id: str, turn: Turn, encoded: bytes
    ) -> int:
        """The seal binds the turn to its seq, which only the list's length gives: read it,
        seal for the next seq, and have the script refuse if another append came first
        (then seal for the seq it reports, and try again)."""
        seal = sealer.seal
        first_question = seal(turn.question.encode(), first_question_place(session_id))
        seq = int(await self._redis.llen(keys[0])) + 1
        for _ in range(SEALED_APPEND_ATTEMPTS):
            sealed = seal(encoded, turn_place(session_id, seq))
            args: list[bytes | str | int] = [
                sealed,
                session_id,
                first_question,
                self._retention_ms,
                turn.user or "",
                seq,
            ]
            stored = int(await self._append_script(keys=keys, args=args))
            if stored > 0:
                return stored
            seq = -stored
        raise StoreError(f"{SEALED_APPEND_ATTEMPTS} appends to {session_id} raced this one")

    async def reseal(self) -> Resealed:
        """Every session's turns and first question, one session at a time; each value is
        replaced only if it is still what was read (a compare-and-set in Lua), so appends
        and clears meanwhile are left alone, and a second run skips what the first did."""
        if self._sealer is None:
            raise EncryptionKeyError(f"set {SETTING} to the key to seal with")
        done = Resealed()
        with unavailable_on_error(self._url):
            async for key in self._redis.scan_iter(match=self._keys.every_turns()):
                session_id = self._keys.session_of_turns(_text(key))
                await self._reseal_session(self._sealer, session_id, done)
        return done

    async def _reseal_session(self, sealer: Sealer, session_id: str, done: Resealed) -> None:
        turns_key, meta_key = self._keys.turns(session_id), self._keys.meta(session_id)
        for index, value in enumerate(await self._redis.lrange(turns_key, 0, -1)):
            raw = _bytes(value)
            if sealer.is_current(raw):
                continue
            where = turn_place(session_id, index + 1)
            try:
                words = opened(sealer, raw, where)
                decode_turn(words, seq=index + 1)
            except CorruptTurn as exc:
                log.warning("not resealing turn %d of %s: %s", index + 1, session_id, exc)
                done.skipped += 1
                continue
            resealed = sealer.seal(words, where)
            done.turns += await self._reseal_script(
                keys=[turns_key, meta_key], args=["turn", index, raw, resealed]
            )
        stored = await self._redis.hget(meta_key, "first_question")
        if stored is None or sealer.is_current(question := _bytes(stored)):
            return
        where = first_question_place(session_id)
        try:
            words = opened(sealer, question, where)
        except CorruptTurn as exc:
            log.warning("not resealing the first question of %s: %s", session_id, exc)
            done.skipped += 1
            return
        done.first_questions += await self._reseal_script(
            keys=[turns_key, meta_key],
            args=["first question", 0, question, sealer.seal(words, where)],
        )

    def _decoded(
        self, session_id: str, raw_turns: list[bytes], *, first_seq: int
    ) -> tuple[Turn, ...]:
        """The turns of consecutive list entries, skipping (and logging) any that will not
        decode; sealed ones are opened (`EncryptionKeyError` if no configured key fits)."""
        turns = []
        for seq, raw in enumerate(raw_turns, start=first_seq):
            try:
                turns.append(opened_turn(self._sealer, session_id, seq, raw))
            except CorruptTurn as exc:
                log.warning("skipping corrupt turn %d of session %s: %s", seq, session_id, exc)
        return tuple(turns)

    async def clear(self, session_id: str) -> int:
        """Delete the session's turns, meta, feedback and index entries.

        On a cluster the index entries go first and the session's keys last, so a clear
        that fails half-way leaves what a second `clear` needs to finish the job.
        The session's lock key, if the lock is held right now, is left to its holder, who
        deletes it on release (or it expires `lock_ttl` after the holder crashed).
        """
        with unavailable_on_error(self._url):
            # appends and clears of a session run under its lock, so no one joins between
            asked = await self._redis.smembers(self._keys.people_of(session_id))
            indexes = [
                self._keys.scope_index(scope_of(session_id)),
                *(self._keys.person_index(_text(user)) for user in asked),
            ]
            if self._cluster:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for index in indexes:
                        pipe.zrem(index, session_id)
                    await pipe.execute()
            deleted = await self._clear_script(
                keys=[
                    *self._session_keys(session_id),
                    *([] if self._cluster else indexes),
                ],
                args=[session_id],
            )
        return int(deleted)

    async def sessions(self, scope: str, limit: int = 20) -> list[SessionInfo]:
        """The scope's sessions active within the retention period, newest first."""
        return await self._listed(self._keys.scope_index(scope), limit)

    async def sessions_of(self, user: str, limit: int = 20) -> list[SessionInfo]:
        """Sessions `user` asked in, newest first; erased ones are skipped (their entry
        in the person's index stays until it expires with the retention period)."""
        return await self._listed(self._keys.person_index(user), limit)

    async def _listed(self, index: str, limit: int) -> list[SessionInfo]:
        """Two round trips: the index, then every listed session's meta hash in one pipeline."""
        cutoff = time.time() - self._retention_ms / 1000
        with unavailable_on_error(self._url):
            members = await self._redis.zrevrangebyscore(index, "+inf", cutoff, start=0, num=limit)
            session_ids = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    pipe.hgetall(self._keys.meta(session_id))
                metas = await pipe.execute()
        found = []
        for session_id, meta in zip(session_ids, metas, strict=True):
            if not meta:
                continue
            try:
                question = opened_first_question(self._sealer, session_id, meta[b"first_question"])
                found.append(_session_info(session_id, meta, question))
            except (KeyError, ValueError) as exc:
                log.warning("skipping corrupt meta of session %s: %r", session_id, exc)
        return found

    async def claim_event(self, event_id: str, ttl: float) -> bool:
        with unavailable_on_error(self._url):
            claimed = await self._redis.set(
                self._keys.event(event_id), b"1", nx=True, px=max(1, round(ttl * 1000))
            )
        return bool(claimed)

    async def claimed(self, event_id: str) -> bool:
        with unavailable_on_error(self._url):
            return bool(await self._redis.exists(self._keys.event(event_id)))

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        """One holder per session across every process using this server.

        The Redis lock expires `lock_ttl` after its holder stops renewing it, so a crashed
        holder frees it; a live holder renews it in the background every third of the TTL.
        Tasks of this process queue on a local lock first, so only one of them polls Redis.
        """
        async with self._local_locks.hold(session_id):
            redis_lock = self._redis.lock(
                self._keys.lock(session_id),
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
        """The session's own keys (one slot on a cluster), as the append and clear scripts
        take them."""
        return [
            self._keys.turns(session_id),
            self._keys.meta(session_id),
            self._keys.feedback(session_id),
            self._keys.people_of(session_id),
        ]

    async def _list_in(self, indexes: list[str], session_id: str) -> None:
        """List the just-appended session in `indexes` (a cluster's other slots). The turn
        is stored already, so a failure here is logged, not raised: raising would have the
        caller report a failed answer, and a retry store the turn twice."""
        try:
            with unavailable_on_error(self._url):
                await asyncio.gather(
                    *(
                        self._index_script(keys=[index], args=[session_id, self._retention_ms])
                        for index in indexes
                    )
                )
        except StoreUnavailable as exc:
            log.warning(
                "session %s is stored but not listed until its next turn: %s",
                session_id,
                exc.reason,
            )

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


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _client(url: str) -> Redis | RedisCluster:
    """A client that fails fast while the server is down and reconnects once it is back.

    Only connection errors are retried, once: a command that timed out may have run, and
    running an append twice would store the turn twice.
    """
    if is_cluster_url(url):
        return cluster_client(
            url,
            in_flight=POOL_SIZE,
            wait=POOL_WAIT_SECONDS,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
        )
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


def _session_info(session_id: str, meta: dict[bytes, bytes], first_question: str) -> SessionInfo:
    return SessionInfo(
        session_id=session_id,
        first_question=first_question,
        turns=int(meta[b"turns"]),
        created_at=datetime.fromtimestamp(float(meta[b"created_at"]), UTC),
        updated_at=datetime.fromtimestamp(float(meta[b"updated_at"]), UTC),
    )
