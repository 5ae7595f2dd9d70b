"""Encryption at rest: what reaches Redis or the database holds none of the words people
wrote, opens only with a configured key, in its own place, and rotates to a new key."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select, update

from stores import EncryptionKeyError, PendingQuestion, Turn
from stores.codec import CorruptTurn
from stores.sealing import Sealer, new_key, place
from stores.sql_schema import TurnRow
from tests.stores.backends import SHARED_BACKENDS, Backend, RedisBackend, SQLBackend
from tests.stores.raw_contents import redis_contents, sql_contents

SESSION = "slack:T1:C1:1700000000.000100"
WORDS = ("Quokka", "zeppelin", "marmalade", "Ouagadougou", "xylophonist")
"""Words no key, id or schema name contains: if one shows up in raw storage, it leaked."""


def a_turn(n: int) -> Turn:
    return Turn(
        question=f"How did the {WORDS[0]} {WORDS[1]} do in year {n}?",
        answer=f"The {WORDS[2]} answer from {WORDS[3]}, number {n}.",
        summary=f"{WORDS[4]} summary {n}",
        user="U123",
        embedding=np.arange(8, dtype=np.float32) + n,
        question_tokens=7,
        answer_tokens=9,
        sources=(),
    )


@pytest.fixture(params=SHARED_BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


async def raw_contents(backend: Backend) -> bytes:
    if isinstance(backend, RedisBackend):
        return await redis_contents(backend.raw, backend.prefix)
    assert isinstance(backend, SQLBackend)
    return await sql_contents(backend.raw)


def leaked(contents: bytes) -> list[str]:
    return [word for word in WORDS if word.encode() in contents]


async def test_turns_read_back_and_nothing_people_wrote_is_stored_in_the_clear(
    backend: Backend,
) -> None:
    store = await backend.open(sealer=Sealer.from_setting(new_key()))
    for n in range(3):
        await store.append(SESSION, a_turn(n))
    await store.inbox.hold(
        PendingQuestion("event-1", SESSION, "1700000001.000100", "me", f'{{"q": "{WORDS[1]}"}}'),
        ttl=60,
    )

    history = await store.load(SESSION)
    [listed] = await store.sessions("slack:T1:C1")
    [waiting] = await store.inbox.waiting(SESSION)

    assert [t.question for t in history] == [a_turn(n).question for n in range(3)]
    assert [t.summary for t in history] == [a_turn(n).summary for n in range(3)]
    assert history.turns[2].embedding is not None
    assert list(history.turns[2].embedding) == list(a_turn(2).embedding)  # type: ignore[arg-type]
    assert [t.seq for t in history] == [1, 2, 3]
    assert listed.first_question == a_turn(0).question
    assert waiting.payload == f'{{"q": "{WORDS[1]}"}}'
    assert leaked(await raw_contents(backend)) == []


async def test_the_same_store_in_the_clear_leaks_every_word(backend: Backend) -> None:
    """The scan above can fail: without a key, the words are there to find."""
    store = await backend.open()
    await store.append(SESSION, a_turn(0))

    assert leaked(await raw_contents(backend)) == list(WORDS)


async def test_without_the_key_reading_fails_with_one_error_naming_the_setting(
    backend: Backend,
) -> None:
    sealed = await backend.open(sealer=Sealer.from_setting(new_key()))
    await sealed.append(SESSION, a_turn(0))

    for sealer in (None, Sealer.from_setting(new_key())):
        store = await backend.open(sealer=sealer)
        with pytest.raises(EncryptionKeyError, match="DEXTER_ENCRYPTION_KEY"):
            await store.load(SESSION)


async def test_turns_written_before_encryption_still_read(backend: Backend) -> None:
    clear = await backend.open()
    await clear.append(SESSION, a_turn(0))

    store = await backend.open(sealer=Sealer.from_setting(new_key()))
    await store.append(SESSION, a_turn(1))

    history = await store.load(SESSION)
    assert [t.question for t in history] == [a_turn(0).question, a_turn(1).question]
    assert (await store.sessions("slack:T1:C1"))[0].first_question == a_turn(0).question


async def test_rotation_reseals_old_and_clear_turns_and_resumes(backend: Backend) -> None:
    old, new = new_key(), new_key()
    await (await backend.open()).append(SESSION, a_turn(0))
    await (await backend.open(sealer=Sealer.from_setting(old))).append(SESSION, a_turn(1))
    rotating = await backend.open(sealer=Sealer.from_setting(f"{new},{old}"))
    await rotating.append("slack:T1:C2:1700000000.000200", a_turn(2))

    first = await rotating.reseal()
    again = await rotating.reseal()

    assert (first.turns, first.skipped) == (2, 0)
    assert (again.turns, again.first_questions, again.skipped) == (0, 0, 0)
    only_new = await backend.open(sealer=Sealer.from_setting(new))
    assert [t.question for t in await only_new.load(SESSION)] == [
        a_turn(0).question,
        a_turn(1).question,
    ]
    assert leaked(await raw_contents(backend)) == []


async def test_a_sealed_turn_moved_to_another_seq_does_not_open_there(backend: Backend) -> None:
    """The seal is bound to its session and seq: a turn's sealed words copied over another
    turn's are skipped as corrupt, and the other turns still load."""
    store = await backend.open(sealer=Sealer.from_setting(new_key()))
    for n in range(3):
        await store.append(SESSION, a_turn(n))
    if isinstance(backend, RedisBackend):
        key = backend.key_names.turns(SESSION)
        await backend.raw.lset(key, 2, await backend.raw.lindex(key, 0))
    else:
        assert isinstance(backend, SQLBackend)
        async with backend.raw.begin() as conn:
            first = await conn.scalar(select(TurnRow.sealed).where(TurnRow.seq == 1))
            await conn.execute(update(TurnRow).where(TurnRow.seq == 3).values(sealed=first))

    assert [t.seq for t in await store.load(SESSION)] == [1, 2]


def test_a_sealed_value_opens_only_in_its_place_and_with_a_key_it_was_sealed_with() -> None:
    old, new = new_key(), new_key()
    sealed = Sealer.from_setting(old).seal(b"words", place("turn", SESSION, 1))
    rotated = Sealer.from_setting(f"{new},{old}")

    assert rotated.open(sealed, place("turn", SESSION, 1)) == b"words"
    assert not rotated.is_current(sealed)
    assert rotated.is_current(rotated.seal(b"words", place("turn", SESSION, 1)))
    with pytest.raises(CorruptTurn):
        rotated.open(sealed, place("turn", SESSION, 2))
    with pytest.raises(EncryptionKeyError, match="DEXTER_ENCRYPTION_KEY"):
        Sealer.from_setting(new).open(sealed, place("turn", SESSION, 1))


@pytest.mark.parametrize(
    "setting", ["", "short", "S78L4Nq1i6zt_T2mnda6IL99ZMVl-WToVvQR_iDSuHA=,not-a-key"]
)
def test_a_malformed_key_is_refused_naming_the_setting(setting: str) -> None:
    with pytest.raises(EncryptionKeyError, match="DEXTER_ENCRYPTION_KEY"):
        Sealer.from_setting(setting)
