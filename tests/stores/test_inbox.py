"""The inbox contract (questions held until answered, adopted when their owner dies), run
against every backend."""

from __future__ import annotations

import asyncio

from stores import SessionStore
from stores.models import PendingQuestion


def question(session_id: str, ts: str, owner: str = "alive", text: str = "") -> PendingQuestion:
    return PendingQuestion(
        key=f"message:{session_id}:{ts}",
        session_id=session_id,
        ts=ts,
        owner=owner,
        payload=text or f'{{"text": "question at {ts} ✓"}}',
    )


async def test_a_held_question_waits_until_settled_and_is_held_once(
    store: SessionStore, session_id: str
) -> None:
    asked = question(session_id, "1700000000.000100")

    assert await store.inbox.hold(asked, ttl=60)
    assert not await store.inbox.hold(asked, ttl=60)
    assert not await store.claim_event(asked.key, ttl=60)  # one claim per message
    assert await store.inbox.waiting(session_id) == [asked]

    await store.inbox.settle(session_id, asked.key)
    await store.inbox.settle(session_id, asked.key)  # settling twice is harmless

    assert await store.inbox.waiting(session_id) == []
    assert not await store.inbox.hold(asked, ttl=60)  # answered: a late retry stays dropped


async def test_waiting_questions_come_in_slack_order_whatever_order_they_were_held(
    store: SessionStore, session_id: str
) -> None:
    stamps = ["1700000000.000300", "999999999.000900", "1700000000.000100", "1700000001.000000"]
    for ts in stamps:
        assert await store.inbox.hold(question(session_id, ts), ttl=60)
    await store.inbox.hold(question(f"{session_id}-other", "1.000000"), ttl=60)

    waiting = await store.inbox.waiting(session_id)

    assert [q.ts for q in waiting] == [
        "999999999.000900",
        "1700000000.000100",
        "1700000000.000300",
        "1700000001.000000",
    ]
    assert waiting[0].payload == '{"text": "question at 999999999.000900 ✓"}'


async def test_settling_one_question_leaves_the_others(
    store: SessionStore, session_id: str
) -> None:
    first, second = question(session_id, "1700000000.000100"), question(session_id, "1700000000.2")
    for asked in (first, second):
        await store.inbox.hold(asked, ttl=60)

    await store.inbox.settle(session_id, first.key)

    assert await store.inbox.waiting(session_id) == [second]


async def test_questions_of_an_owner_that_stopped_beating_are_adopted_once(
    store: SessionStore, session_id: str
) -> None:
    await store.inbox.beat("alive", ttl=60)
    await store.inbox.beat("adopter", ttl=60)
    await store.inbox.beat("dead", ttl=0.05)
    kept = question(session_id, "1700000000.000100", owner="alive")
    orphans = [question(session_id, f"1700000000.00020{n}", owner="dead") for n in range(3)]
    for asked in (kept, *orphans):
        await store.inbox.hold(asked, ttl=60)
    await asyncio.sleep(0.2)

    adopted = await store.inbox.adopt("adopter", limit=10)

    assert sorted(q.key for q in adopted) == sorted(q.key for q in orphans)
    assert {q.owner for q in adopted} == {"adopter"}
    assert await store.inbox.adopt("someone else", limit=10) == []
    owners = {q.key: q.owner for q in await store.inbox.waiting(session_id)}
    assert owners == {kept.key: "alive", **{q.key: "adopter" for q in orphans}}


async def test_an_owner_that_never_beat_counts_as_gone(
    store: SessionStore, session_id: str
) -> None:
    await store.inbox.hold(question(session_id, "1700000000.000100", owner="never"), ttl=60)

    adopted = await store.inbox.adopt("adopter", limit=10)

    assert [q.owner for q in adopted] == ["adopter"]


async def test_concurrent_adopters_share_the_orphans_without_overlap(
    store: SessionStore, session_id: str
) -> None:
    for n in range(40):
        await store.inbox.hold(question(f"{session_id}-{n % 4}", f"1700000000.{n:06d}"), ttl=60)
    adopters = [f"adopter-{n}" for n in range(5)]
    for adopter in adopters:
        await store.inbox.beat(adopter, ttl=60)

    takes = await asyncio.gather(*(store.inbox.adopt(a, limit=15) for a in adopters))

    keys = [q.key for take in takes for q in take]
    assert len(keys) == len(set(keys)) == 40
    for adopter, take in zip(adopters, takes, strict=True):
        assert {q.owner for q in take} <= {adopter}


async def test_adopt_takes_no_more_than_its_limit(store: SessionStore, session_id: str) -> None:
    await store.inbox.beat("adopter", ttl=60)
    for n in range(5):
        await store.inbox.hold(question(session_id, f"1700000000.{n:06d}", owner="gone"), ttl=60)

    assert len(await store.inbox.adopt("adopter", limit=2)) == 2
    assert len(await store.inbox.adopt("adopter", limit=10)) == 3
    assert await store.inbox.adopt("adopter", limit=10) == []
