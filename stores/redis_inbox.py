"""The inbox on Redis: a hash per session of the questions not yet answered.

Each field is a question's key, its value the question's JSON (ts, owner, payload). An
index lists the sessions whose hash may not be empty, so `adopt` finds them without a SCAN
of the keyspace; an owner is alive while its key, set with a TTL by `beat`, exists.

On a single server `hold` and `settle` are Lua scripts over the claim, the hash and the
index together, so a question is claimed and recorded in one atomic step. On a cluster
those keys are in three slots, so `hold` takes three single-slot steps, in an order that
never loses a question:

1. list the session in the index (a sorted set scored by the time of this hold), so that
   whatever is recorded next can be found;
2. record the question in the session's hash unless it is there already (then the message
   is someone's: false);
3. claim the message's key; if another process claimed it before (a late retry of an
   answered message, or a `claim_event`), take the record back out: false.

A crash between 2 and 3 leaves the question recorded under a dead owner: it is adopted and
answered, never lost (Slack's retries of it meanwhile find the record and are dropped; its
message stays unclaimed, so a copy delivered only after that answer is settled, some
minutes on, would be answered again). `settle` deletes the field alone. `adopt` drops a
session from the index once its hash is empty and its last hold is older than `lock_ttl`:
a hold takes far less than that between steps 1 and 2, or its process counts as dead
anyway (its locks and heartbeat have lapsed). `adopt`'s take-over is one compare-and-set
on the session's hash in both modes, so two processes adopting one question cannot both
get it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from stores.models import PendingQuestion
from stores.redis_keys import RedisKeys, unavailable_on_error
from stores.sealing import Sealer, opened_payload, sealed_payload

log = logging.getLogger(__name__)

HOLD_SCRIPT = """
-- KEYS: the message's claim, the session's inbox, the inbox index.
-- ARGV: claim TTL ms, question key, question JSON, session id, retention ms.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
    return 0
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""

SETTLE_SCRIPT = """
-- KEYS: the session's inbox, the inbox index. ARGV: question key, session id.
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
"""

TAKE_OVER_SCRIPT = """
-- KEYS: the session's inbox. ARGV: question key, its JSON as read, its JSON with us as owner.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
    return 1
end
return 0
"""

CLUSTER_INDEX_SCRIPT = """
-- KEYS: the inbox index (a sorted set). ARGV: session id, retention ms.
-- Lists the session as held now; drops sessions whose inbox has expired since.
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
redis.call('ZADD', KEYS[1], string.format('%.6f', now), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf',
           '(' .. string.format('%.6f', now - tonumber(ARGV[2]) / 1000))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

CLUSTER_RECORD_SCRIPT = """
-- KEYS: the session's inbox. ARGV: question key, question JSON, retention ms.
-- Returns 1 if recorded, 0 if the question is there already.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
    return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

CLUSTER_UNRECORD_SCRIPT = """
-- KEYS: the session's inbox. ARGV: question key, the JSON this hold recorded.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
    redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
"""

CLUSTER_FORGET_SCRIPT = """
-- KEYS: the inbox index. ARGV: session id, how long ago (ms) its last hold must have been.
-- Called once the session's inbox was seen empty.
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not held then
    return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
if now - tonumber(held) >= tonumber(ARGV[2]) / 1000 then
    redis.call('ZREM', KEYS[1], ARGV[1])
    return 1
end
return 0
"""


class RedisInbox:
    """`Inbox` on the Redis server, or cluster, of a `RedisSessionStore`."""

    def __init__(
        self,
        redis: Redis | RedisCluster,
        url: str,
        keys: RedisKeys,
        *,
        retention_ms: int,
        lock_ttl: float,
        sealer: Sealer | None = None,
    ) -> None:
        self._redis = redis
        self._sealer = sealer
        self._url = url
        self._keys = keys
        self._retention_ms = retention_ms
        self._idle_ms = max(1, round(lock_ttl * 1000))
        self._hold = redis.register_script(HOLD_SCRIPT)
        self._settle = redis.register_script(SETTLE_SCRIPT)
        self._take_over = redis.register_script(TAKE_OVER_SCRIPT)
        self._index = redis.register_script(CLUSTER_INDEX_SCRIPT)
        self._record = redis.register_script(CLUSTER_RECORD_SCRIPT)
        self._unrecord = redis.register_script(CLUSTER_UNRECORD_SCRIPT)
        self._forget = redis.register_script(CLUSTER_FORGET_SCRIPT)

    async def hold(self, question: PendingQuestion, ttl: float) -> bool:
        claim_ms = max(1, round(ttl * 1000))
        question = replace(
            question, payload=sealed_payload(self._sealer, question.key, question.payload)
        )
        if self._keys.cluster:
            return await self._hold_on_cluster(question, claim_ms)
        keys = [
            self._keys.event(question.key),
            self._keys.inbox(question.session_id),
            self._keys.inbox_index(),
        ]
        args: list[str | int] = [
            claim_ms,
            question.key,
            _encoded(question),
            question.session_id,
            self._retention_ms,
        ]
        with unavailable_on_error(self._url):
            return bool(await self._hold(keys=keys, args=args))

    async def waiting(self, session_id: str) -> list[PendingQuestion]:
        with unavailable_on_error(self._url):
            fields = await self._redis.hgetall(self._keys.inbox(session_id))
        questions = [
            self._opened(question)
            for key, raw in fields.items()
            if (question := _decoded(session_id, key, raw)) is not None
        ]
        return sorted(questions, key=lambda q: q.order)

    async def settle(self, session_id: str, key: str) -> None:
        with unavailable_on_error(self._url):
            if self._keys.cluster:  # the index entry goes in `adopt`, once it is idle
                await self._redis.hdel(self._keys.inbox(session_id), key)
            else:
                keys = [self._keys.inbox(session_id), self._keys.inbox_index()]
                await self._settle(keys=keys, args=[key, session_id])

    async def beat(self, owner: str, ttl: float) -> None:
        with unavailable_on_error(self._url):
            await self._redis.set(self._keys.owner(owner), b"1", px=max(1, round(ttl * 1000)))

    async def adopt(self, owner: str, limit: int) -> list[PendingQuestion]:
        """Take over up to `limit` questions whose owners' keys have expired."""
        with unavailable_on_error(self._url):
            adopted: list[PendingQuestion] = []
            for session_id in await self._indexed_sessions():
                inbox = self._keys.inbox(session_id)
                fields = await self._redis.hgetall(inbox)
                if not fields:  # all settled, or the hash expired with the retention period
                    await self._unindex(session_id)
                    continue
                for key, raw in fields.items():
                    question = _decoded(session_id, key, raw)
                    if question is None or await self._alive(question.owner):
                        continue
                    mine = PendingQuestion(
                        question.key, session_id, question.ts, owner, question.payload
                    )
                    if await self._take_over(keys=[inbox], args=[key, raw, _encoded(mine)]):
                        adopted.append(self._opened(mine))
                        if len(adopted) == limit:
                            return adopted
        return adopted

    async def _hold_on_cluster(self, question: PendingQuestion, claim_ms: int) -> bool:
        """Index, record, claim: the three steps of the module's docstring."""
        inbox = self._keys.inbox(question.session_id)
        recorded = _encoded(question)
        with unavailable_on_error(self._url):
            await self._index(
                keys=[self._keys.inbox_index()], args=[question.session_id, self._retention_ms]
            )
            if not await self._record(
                keys=[inbox], args=[question.key, recorded, self._retention_ms]
            ):
                return False
            if await self._redis.set(self._keys.event(question.key), b"1", nx=True, px=claim_ms):
                return True
            await self._unrecord(keys=[inbox], args=[question.key, recorded])
        return False

    async def _indexed_sessions(self) -> list[str]:
        index = self._keys.inbox_index()
        members: Iterable[bytes | str]
        if self._keys.cluster:  # without scores, zrange's reply is the members
            members = cast(list[bytes], await self._redis.zrange(index, 0, -1))
        else:
            members = await self._redis.smembers(index)
        return [_text(member) for member in members]

    async def _unindex(self, session_id: str) -> None:
        """Drop a session whose inbox was just seen empty from the index; on a cluster only
        if no hold has listed it within `lock_ttl` (its record may be on its way)."""
        if self._keys.cluster:
            await self._forget(keys=[self._keys.inbox_index()], args=[session_id, self._idle_ms])
        else:
            await self._settle(
                keys=[self._keys.inbox(session_id), self._keys.inbox_index()],
                args=["", session_id],
            )

    def _opened(self, question: PendingQuestion) -> PendingQuestion:
        """The question with its payload as the bot wrote it (sealed in Redis, with a key)."""
        payload = opened_payload(self._sealer, question.key, question.payload)
        return replace(question, payload=payload)

    async def _alive(self, owner: str) -> bool:
        return bool(await self._redis.exists(self._keys.owner(owner)))


def _encoded(question: PendingQuestion) -> str:
    return json.dumps(
        {"ts": question.ts, "owner": question.owner, "payload": question.payload},
        ensure_ascii=False,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decoded(session_id: str, key: bytes | str, raw: bytes | str) -> PendingQuestion | None:
    """The question a field holds, or None (logged) if it will not decode."""
    try:
        fields: dict[str, Any] = json.loads(raw)
        ts, owner, payload = (str(fields[name]) for name in ("ts", "owner", "payload"))
        question = PendingQuestion(_text(key), session_id, ts, owner, payload)
        question.order  # noqa: B018 - a ts that does not sort is corrupt too
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("skipping a corrupt pending question of session %s: %r", session_id, exc)
        return None
    return question
