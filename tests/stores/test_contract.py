"""The `SessionStore` contract, run against every backend (memory, SQLite, Redis, PostgreSQL)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from datetime import UTC, datetime

import numpy as np
import pytest

from stores import SessionStore, Source, Turn
from stores.models import scope_of
from tests.stores.backends import SHARED_BACKENDS, Backend


def full_turn(n: int = 1, **changes: object) -> Turn:
    fields: dict[str, object] = {
        "question": f"What was Apple's revenue in FY{2000 + n}? ünïcode ✓",
        "answer": f"Revenue was ${n}B, per the 10-K.\n\n| year | revenue |\n| {n} | {n} |",
        "summary": f"Apple revenue FY{2000 + n}: ${n}B",
        "user": "U012ABCDEF",
        "embedding": np.linspace(-1, 1, 384, dtype=np.float32) * n,
        "question_tokens": 11 + n,
        "answer_tokens": 42 + n,
        "summary_tokens": 7 + n,
        "sources": (Source("AAPL 10-K 2024", "https://example.com/aapl"), Source("Prices", "")),
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    }
    fields.update(changes)
    return Turn(**fields)  # type: ignore[arg-type]


async def test_append_then_load_returns_every_field_of_the_turn(
    store: SessionStore, session_id: str
) -> None:
    written = full_turn()
    stored = await store.append(session_id, written)

    loaded = (await store.load(session_id)).turns

    assert stored == written.with_seq(1)
    assert loaded == (written.with_seq(1),)
    assert loaded[0].embedding is not None and written.embedding is not None
    assert loaded[0].embedding.dtype == np.float32
    assert loaded[0].embedding.tobytes() == written.embedding.tobytes()
    assert loaded[0].created_at.tzinfo is not None


async def test_a_turn_without_user_embedding_or_sources_round_trips(
    store: SessionStore, session_id: str
) -> None:
    bare = Turn(question="hi", answer="hello")
    await store.append(session_id, bare)

    (loaded,) = (await store.load(session_id)).turns

    assert loaded == bare.with_seq(1)
    assert loaded.embedding is None and loaded.user is None and loaded.sources == ()


async def test_load_returns_turns_oldest_first_and_limit_keeps_the_latest(
    store: SessionStore, session_id: str
) -> None:
    for n in range(1, 8):
        await store.append(session_id, full_turn(n))

    everything = await store.load(session_id)
    latest_three = await store.load(session_id, limit=3)

    assert [t.seq for t in everything] == [1, 2, 3, 4, 5, 6, 7]
    assert [t.question for t in everything] == [full_turn(n).question for n in range(1, 8)]
    assert [t.seq for t in latest_three] == [5, 6, 7]
    assert len(await store.load(session_id, limit=0)) == 0
    assert [t.seq for t in await store.load(session_id, limit=100)] == list(range(1, 8))
    with pytest.raises(ValueError, match="limit"):
        await store.load(session_id, limit=-1)


async def test_page_walks_the_history_newest_first_without_loading_the_rest(
    store: SessionStore, session_id: str
) -> None:
    for n in range(1, 12):
        await store.append(session_id, full_turn(n))

    pages, before = [], None
    while True:
        page = await store.page(session_id, limit=4, before=before)
        assert page.total == 11
        pages.append([t.seq for t in page.turns])
        if not page.has_older:
            break
        before = page.turns[-1].seq

    assert pages == [[11, 10, 9, 8], [7, 6, 5, 4], [3, 2, 1]]
    first = (await store.page(session_id, limit=1)).turns[0]
    assert first.question == full_turn(11).question and first.embedding is not None
    assert [t.seq for t in (await store.page(session_id, limit=50, before=3)).turns] == [2, 1]
    assert (await store.page(session_id, limit=3, before=1)).turns == ()
    assert [t.seq for t in (await store.page(session_id, limit=2, before=99)).turns] == [11, 10]
    counted = await store.page(session_id, limit=0)
    assert (counted.turns, counted.total) == ((), 11)
    unknown = await store.page(session_id + "-unknown", limit=5)
    assert (unknown.turns, unknown.total, unknown.has_older) == ((), 0, False)
    with pytest.raises(ValueError, match="before"):
        await store.page(session_id, limit=5, before=0)
    with pytest.raises(ValueError, match="limit"):
        await store.page(session_id, limit=-1)


async def test_a_rating_is_kept_with_its_turn_and_shown_by_page(
    store: SessionStore, session_id: str
) -> None:
    for n in range(1, 4):
        await store.append(session_id, full_turn(n))

    assert await store.rate(session_id, 2, "good")
    assert await store.rate(session_id, 3, "bad")
    assert await store.rate(session_id, 3, "good")  # changing one's mind
    assert not await store.rate(session_id, 4, "good")
    assert not await store.rate(session_id + "-nobody", 1, "bad")

    page = await store.page(session_id, limit=10)
    assert [(t.seq, t.feedback) for t in page.turns] == [(3, "good"), (2, "good"), (1, None)]
    assert [t.seq for t in await store.load(session_id)] == [1, 2, 3]


async def test_load_of_an_unknown_session_is_an_empty_history(
    store: SessionStore, session_id: str
) -> None:
    history = await store.load(session_id)

    assert history.session_id == session_id
    assert not history and history.last is None


async def test_append_assigns_the_sequence_number_whatever_the_caller_set(
    store: SessionStore, session_id: str
) -> None:
    first = await store.append(session_id, full_turn(seq=41))
    second = await store.append(session_id, full_turn(seq=41))

    assert (first.seq, second.seq) == (1, 2)


async def test_two_hundred_concurrent_appends_get_sequence_one_to_two_hundred(
    store: SessionStore, session_id: str
) -> None:
    turns = [Turn(question=f"q{i}", answer=f"a{i}") for i in range(200)]

    stored = await asyncio.gather(*(store.append(session_id, turn) for turn in turns))

    assert sorted(t.seq for t in stored) == list(range(1, 201))
    history = await store.load(session_id)
    assert [t.seq for t in history] == list(range(1, 201))
    by_seq = {t.seq: t.question for t in stored}
    assert all(by_seq[t.seq] == t.question for t in history)


async def test_a_thousand_concurrent_claims_of_one_event_succeed_exactly_once(
    store: SessionStore, session_id: str
) -> None:
    event_id = f"Ev{session_id}"

    results = await asyncio.gather(*(store.claim_event(event_id, 60) for _ in range(1000)))

    assert results.count(True) == 1
    assert await store.claim_event(f"{event_id}-other", 60)


async def test_claimed_says_whether_a_key_is_claimed_and_claims_nothing(
    store: SessionStore, session_id: str
) -> None:
    key = f"marker:{session_id}"

    assert not await store.claimed(key)
    assert not await store.claimed(key)  # asking twice claimed nothing
    assert await store.claim_event(key, ttl=60)
    assert await store.claimed(key)


async def test_a_claimed_event_is_free_again_after_its_ttl(
    store: SessionStore, session_id: str
) -> None:
    event_id = f"Ev{session_id}"

    assert await store.claim_event(event_id, 0.3)
    await asyncio.sleep(0.4)  # past the TTL, however busy the machine: free for sure
    assert await store.claim_event(event_id, 30)
    assert not await store.claim_event(event_id, 30)  # within a TTL no busy machine outlasts


async def test_clear_removes_every_trace_of_the_session_and_nothing_else(
    backend: Backend, store: SessionStore, session_id: str
) -> None:
    neighbour = session_id + "-neighbour"
    for n in range(1, 4):
        await store.append(session_id, full_turn(n))
    await store.rate(session_id, 2, "good")
    await store.append(neighbour, full_turn(9))
    assert await backend.traces(store, session_id)

    removed = await store.clear(session_id)

    assert removed == 3
    assert await backend.traces(store, session_id) == []
    assert [t.seq for t in await store.load(neighbour)] == [1]
    assert [s.session_id for s in await store.sessions(_scope(neighbour))] == [neighbour]
    assert await store.clear(session_id) == 0
    assert (await store.append(session_id, full_turn())).seq == 1


@pytest.mark.parametrize("backend_name", SHARED_BACKENDS)
async def test_a_corrupt_stored_turn_is_skipped_with_a_warning_and_hides_no_other(
    backend: Backend, store: SessionStore, session_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    await store.append(session_id, full_turn(1))
    await backend.store_corrupt_turn(session_id)
    await store.append(session_id, full_turn(3))

    with caplog.at_level(logging.WARNING, logger="stores"):
        history = await store.load(session_id)

    assert [t.seq for t in history] == [1, 3]
    assert history.turns[1] == full_turn(3).with_seq(3)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "corrupt turn 2" in warnings[0].getMessage()
    assert session_id in warnings[0].getMessage()


async def test_sessions_lists_one_scopes_sessions_newest_first(
    store: SessionStore, session_id: str
) -> None:
    scope = _scope(session_id)
    older, middle, newest = (f"{scope}:100{n}.000001" for n in range(3))
    for sid in (older, middle, newest):
        await store.append(sid, full_turn(question=f"first of {sid}"))
        await asyncio.sleep(0.002)
    await store.append(older, full_turn(question="a follow-up"))
    await store.append(f"{scope}x:1.0", full_turn())

    listed = await store.sessions(scope)

    assert [s.session_id for s in listed] == [older, newest, middle]
    assert [s.turns for s in listed] == [2, 1, 1]
    assert listed[0].first_question == f"first of {older}"
    assert listed[0].created_at <= listed[0].updated_at
    assert listed[0].updated_at.tzinfo is not None
    assert [s.session_id for s in await store.sessions(scope, limit=2)] == [older, newest]
    assert await store.sessions(scope + "-nobody") == []


async def test_sessions_of_a_person_are_those_they_asked_in_newest_first(
    store: SessionStore, session_id: str
) -> None:
    scope = _scope(session_id)
    person, other = f"U{scope[-8:].upper()}A", f"U{scope[-8:].upper()}B"
    started, joined, not_theirs, erased = (f"{scope}:200{n}.000001" for n in range(4))
    await store.append(started, full_turn(user=person))
    await asyncio.sleep(0.002)
    await store.append(not_theirs, full_turn(user=other))
    await store.append(joined, full_turn(user=other))
    await store.append(erased, full_turn(user=person))
    await asyncio.sleep(0.002)
    await store.append(joined, full_turn(user=person, question="and Microsoft?"))
    await store.clear(erased)

    listed = await store.sessions_of(person)

    assert [s.session_id for s in listed] == [joined, started]
    assert [s.turns for s in listed] == [2, 1]
    assert [s.session_id for s in await store.sessions_of(person, limit=1)] == [joined]
    assert await store.sessions_of(f"{person}Z") == []


async def test_sessions_untouched_for_the_retention_period_disappear(
    backend: Backend, session_id: str
) -> None:
    store = await backend.open(retention_seconds=0.5)
    await store.append(session_id, full_turn())

    await asyncio.sleep(0.7)
    await store.purge_expired()

    assert not await store.load(session_id)
    assert await store.sessions(_scope(session_id)) == []
    assert await backend.traces(store, session_id) == []


async def test_a_second_holder_waits_until_the_first_releases_the_lock(
    store: SessionStore, session_id: str
) -> None:
    order: list[str] = []

    async def second() -> None:
        async with store.lock(session_id):
            order.append("second holds")

    async with store.lock(session_id):
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not waiter.done()
        order.append("first releases")
    await asyncio.wait_for(waiter, 5)

    assert order == ["first releases", "second holds"]
    async with store.lock(session_id + "-other"):
        pass


async def test_locks_of_different_sessions_do_not_wait_for_each_other(
    store: SessionStore, session_id: str
) -> None:
    async with store.lock(session_id):
        await asyncio.wait_for(_hold_briefly(store, session_id + "-other"), 5)


async def test_a_lock_is_released_when_its_holder_raises(
    store: SessionStore, session_id: str
) -> None:
    with pytest.raises(RuntimeError):
        async with store.lock(session_id):
            raise RuntimeError("the answer failed")

    await asyncio.wait_for(_hold_briefly(store, session_id), 5)


async def test_a_holder_cancelled_while_holding_releases_the_lock(
    store: SessionStore, session_id: str
) -> None:
    locked = asyncio.Event()

    async def hold_until_cancelled() -> None:
        async with store.lock(session_id):
            locked.set()
            await asyncio.Event().wait()

    holder = asyncio.create_task(hold_until_cancelled())
    await asyncio.wait_for(locked.wait(), 5)
    holder.cancel()
    await asyncio.wait([holder])

    assert holder.cancelled()
    await asyncio.wait_for(_hold_briefly(store, session_id), 5)


async def test_a_waiter_cancelled_while_waiting_leaves_the_lock_to_the_next(
    store: SessionStore, session_id: str
) -> None:
    async with store.lock(session_id):
        waiter = asyncio.create_task(_hold_briefly(store, session_id))
        await asyncio.sleep(0.1)
        waiter.cancel()
        await asyncio.wait([waiter])

    assert waiter.cancelled()
    await asyncio.wait_for(_hold_briefly(store, session_id), 5)


async def test_a_hundred_and_fifty_sessions_can_be_locked_at_once(
    store: SessionStore, session_id: str
) -> None:
    sessions = 150
    all_held = asyncio.Barrier(sessions)

    async def hold_until_all_are_held(n: int) -> None:
        async with store.lock(f"{session_id}-{n}"):
            await all_held.wait()

    await asyncio.wait_for(
        asyncio.gather(*(hold_until_all_are_held(n) for n in range(sessions))), 20
    )


async def test_ping_answers_on_a_live_store_and_changes_nothing(
    store: SessionStore, session_id: str
) -> None:
    await store.append(session_id, full_turn())

    assert await store.ping() is None

    assert [t.seq for t in await store.load(session_id)] == [1]
    assert [s.session_id for s in await store.sessions(scope_of(session_id))] == [session_id]


async def test_every_backend_keeps_the_session_store_protocol(store: SessionStore) -> None:
    """Same methods, same parameters (names, kinds, defaults), same sync/async nature:
    `isinstance` against a runtime-checkable protocol looks at names only."""
    for name, wanted in inspect.getmembers(SessionStore, inspect.isfunction):
        if name.startswith("_"):
            continue
        method = getattr(type(store), name)
        expected = list(inspect.signature(wanted).parameters.values())
        found = list(inspect.signature(method).parameters.values())
        assert [(p.name, p.kind, p.default) for p in found] == [
            (p.name, p.kind, p.default) for p in expected
        ], name
        assert inspect.iscoroutinefunction(method) == inspect.iscoroutinefunction(wanted), name


async def _hold_briefly(store: SessionStore, session_id: str) -> None:
    async with store.lock(session_id):
        await asyncio.sleep(0)


def _scope(session_id: str) -> str:
    return session_id.rpartition(":")[0]
