"""The inbox on Redis: a hash per session of the questions not yet answered.

Each field is a question's key, its value the question's JSON (ts, owner, payload). A set
lists the sessions whose hash is not empty, so `adopt` finds them without a SCAN of the
keyspace; an owner is alive while its key, set with a TTL by `beat`, exists. `hold`,
`settle` and `adopt`'s take-over are Lua scripts, so each is atomic: a question is claimed
and recorded together, and two processes adopting one question cannot both get it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis

from stores.models import PendingQuestion
from stores.redis_keys import (
    event_key,
    inbox_index_key,
    inbox_key,
    owner_key,
    unavailable_on_error,
)

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


class RedisInbox:
    """`Inbox` on the Redis server of a `RedisSessionStore`."""

    def __init__(self, redis: Redis, url: str, *, prefix: str, retention_ms: int) -> None:
        self._redis = redis
        self._url = url
        self._prefix = prefix
        self._retention_ms = retention_ms
        self._hold = redis.register_script(HOLD_SCRIPT)
        self._settle = redis.register_script(SETTLE_SCRIPT)
        self._take_over = redis.register_script(TAKE_OVER_SCRIPT)

    async def hold(self, question: PendingQuestion, ttl: float) -> bool:
        keys = [
            event_key(self._prefix, question.key),
            inbox_key(self._prefix, question.session_id),
            inbox_index_key(self._prefix),
        ]
        args: list[str | int] = [
            max(1, round(ttl * 1000)),
            question.key,
            _encoded(question),
            question.session_id,
            self._retention_ms,
        ]
        with unavailable_on_error(self._url):
            return bool(await self._hold(keys=keys, args=args))

    async def waiting(self, session_id: str) -> list[PendingQuestion]:
        with unavailable_on_error(self._url):
            fields = await self._redis.hgetall(inbox_key(self._prefix, session_id))
        questions = [
            question
            for key, raw in fields.items()
            if (question := _decoded(session_id, key, raw)) is not None
        ]
        return sorted(questions, key=lambda q: q.order)

    async def settle(self, session_id: str, key: str) -> None:
        keys = [inbox_key(self._prefix, session_id), inbox_index_key(self._prefix)]
        with unavailable_on_error(self._url):
            await self._settle(keys=keys, args=[key, session_id])

    async def beat(self, owner: str, ttl: float) -> None:
        with unavailable_on_error(self._url):
            await self._redis.set(
                owner_key(self._prefix, owner), b"1", px=max(1, round(ttl * 1000))
            )

    async def adopt(self, owner: str, limit: int) -> list[PendingQuestion]:
        """Take over up to `limit` questions whose owners' keys have expired."""
        with unavailable_on_error(self._url):
            sessions = await self._redis.smembers(inbox_index_key(self._prefix))
            adopted: list[PendingQuestion] = []
            for raw_session in sessions:
                session_id = _text(raw_session)
                inbox = inbox_key(self._prefix, session_id)
                fields = await self._redis.hgetall(inbox)
                if not fields:  # the hash expired with the retention period
                    await self._settle(
                        keys=[inbox, inbox_index_key(self._prefix)], args=["", session_id]
                    )
                    continue
                for key, raw in fields.items():
                    question = _decoded(session_id, key, raw)
                    if question is None or await self._alive(question.owner):
                        continue
                    mine = PendingQuestion(
                        question.key, session_id, question.ts, owner, question.payload
                    )
                    if await self._take_over(keys=[inbox], args=[key, raw, _encoded(mine)]):
                        adopted.append(mine)
                        if len(adopted) == limit:
                            return adopted
        return adopted

    async def _alive(self, owner: str) -> bool:
        return bool(await self._redis.exists(owner_key(self._prefix, owner)))


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
