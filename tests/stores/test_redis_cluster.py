"""The Redis store on a real three-master Redis Cluster: what the contract tests cannot see.

The contract suite runs on the cluster as the `redis-cluster` backend; a script or MULTI
over keys of two slots would fail there with CROSSSLOT. These tests show that the cluster
refuses such a script, that a session's keys share one slot while sessions spread over
every master, and that the steps a cluster splits apart leave nothing behind that the
next call does not finish.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, ResponseError

from stores import PendingQuestion, SessionStore, Turn, scope_of
from tests.stores.backends import RedisClusterBackend

pytestmark = pytest.mark.parametrize("backend_name", ["redis-cluster"])

SESSIONS = [f"slack:T0CLUSTER:C0CLUSTER:1700000000.{n:06d}" for n in range(12)]
"""Fixed ids, so which slot (and master) each session lands on is the same every run."""


def asked(session_id: str, ts: str, owner: str) -> PendingQuestion:
    return PendingQuestion(f"slack-message:{session_id}:{ts}", session_id, ts, owner, "{}")


async def test_a_script_over_two_slots_is_refused_by_the_cluster(
    backend: RedisClusterBackend,
) -> None:
    """What makes the contract suite on this backend a check of slot discipline."""
    raw = backend.raw
    assert isinstance(raw, RedisCluster)
    first, second = f"{backend.prefix}:a", f"{backend.prefix}:b"
    assert raw.keyslot(first) != raw.keyslot(second)

    with pytest.raises((ResponseError, RedisClusterException), match=r"(?i)slot"):
        await raw.eval("return redis.call('MSET', KEYS[1], 1, KEYS[2], 2)", 2, first, second)


async def test_each_sessions_keys_share_one_slot_and_sessions_spread_over_every_master(
    backend: RedisClusterBackend, store: SessionStore
) -> None:
    raw = backend.raw
    assert isinstance(raw, RedisCluster)
    for n, session_id in enumerate(SESSIONS):
        turn = await store.append(session_id, Turn(question="q", answer="a", user=f"U{n}"))
        await store.rate(session_id, turn.seq, "good")
        await store.inbox.hold(asked(session_id, "1700000001.000001", "me"), ttl=60)
    async with store.lock(SESSIONS[0]):
        lock_key = backend.key_names.lock(SESSIONS[0])
        assert await raw.exists(lock_key)
        lock_slot = raw.keyslot(lock_key)

    slots: dict[str, set[int]] = defaultdict(set)
    kinds: dict[str, set[str]] = defaultdict(set)
    for key in await backend.keys():
        for session_id in SESSIONS:
            if key.endswith(f"{{{session_id}}}"):
                slots[session_id].add(raw.keyslot(key))
                kinds[session_id].add(key.split(":")[1])
    masters = {raw.get_node_from_key(f"{{{session_id}}}").name for session_id in SESSIONS}

    assert set(slots) == set(SESSIONS)
    assert all(len(found) == 1 for found in slots.values()), slots
    assert kinds[SESSIONS[0]] == {"turns", "meta", "feedback", "people-of", "inbox"}
    assert lock_slot in slots[SESSIONS[0]]
    assert masters == {node.name for node in raw.get_primaries()}
    assert len(masters) == 3


async def test_a_session_listed_nowhere_is_listed_again_by_its_next_turn(
    backend: RedisClusterBackend, store: SessionStore, session_id: str
) -> None:
    """An append whose index step failed (the turn is stored first) heals on the next."""
    await store.append(session_id, Turn(question="first", answer="a", user="U1"))
    await backend.raw.zrem(backend.key_names.scope_index(scope_of(session_id)), session_id)
    await backend.raw.zrem(backend.key_names.person_index("U1"), session_id)
    assert await store.sessions(scope_of(session_id)) == []

    await store.append(session_id, Turn(question="second", answer="b", user="U1"))

    [listed] = await store.sessions(scope_of(session_id))
    [theirs] = await store.sessions_of("U1")
    assert listed.session_id == theirs.session_id == session_id
    assert listed.turns == 2 and listed.first_question == "first"


async def test_a_clear_that_stopped_after_the_indexes_is_finished_by_the_next(
    backend: RedisClusterBackend, store: SessionStore, session_id: str
) -> None:
    """Clear empties the indexes first and the session's own keys last, so its people
    (who say which indexes to empty) are still there for a second try."""
    for user in ("U1", "U2"):
        await store.append(session_id, Turn(question="q", answer="a", user=user))
    for index in (
        backend.key_names.scope_index(scope_of(session_id)),
        backend.key_names.person_index("U1"),
    ):
        await backend.raw.zrem(index, session_id)  # as far as a failed clear got

    assert await store.clear(session_id) == 2

    assert await backend.traces(store, session_id) == []
    assert await store.sessions_of("U2") == []


async def test_a_question_recorded_by_a_holder_that_died_before_claiming_is_adopted(
    backend: RedisClusterBackend, store: SessionStore, session_id: str
) -> None:
    """Hold lists the session and records the question before it claims the message: a
    crash in between leaves a question that is answered, not one that is lost."""
    died = await backend.open()
    question = asked(session_id, "1700000000.000100", "dead")
    await died.inbox.hold(question, ttl=60)
    await backend.raw.delete(backend.key_names.event(question.key))  # never claimed

    adopted = await store.inbox.adopt("adopter", limit=10)

    assert [(q.key, q.owner) for q in adopted] == [(question.key, "adopter")]
    assert not await store.inbox.hold(asked(session_id, "1700000000.000100", "late"), ttl=60)


async def test_an_emptied_inbox_leaves_the_index_once_idle_for_the_lock_ttl(
    backend: RedisClusterBackend, session_id: str
) -> None:
    store = await backend.open(lock_ttl=0.05)
    index = backend.key_names.inbox_index()
    question = asked(session_id, "1700000000.000100", "me")
    await store.inbox.beat("me", ttl=60)
    assert await store.inbox.hold(question, ttl=60)
    await store.inbox.settle(session_id, question.key)
    assert await backend.raw.zscore(index, session_id) is not None

    await asyncio.sleep(0.2)  # longer than the lock TTL since the hold
    assert await store.inbox.adopt("me", limit=10) == []

    assert await backend.raw.zscore(index, session_id) is None
