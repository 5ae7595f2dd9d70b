"""The binary turn format of the Redis store."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from stores import Source, Turn
from stores.codec import CorruptTurn, decode_turn, encode_turn


def a_turn(**changes: object) -> Turn:
    fields: dict[str, object] = {
        "question": "Marge d'exploitation d'Apple ? 苹果",
        "answer": "About 31%.",
        "summary": "Apple operating margin ≈ 31%",
        "user": "U1",
        "embedding": np.arange(384, dtype=np.float32) / 7,
        "question_tokens": 9,
        "answer_tokens": 4,
        "summary_tokens": 6,
        "sources": (Source("10-K", "https://example.com/10k"), Source("", "")),
        "created_at": datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
    }
    fields.update(changes)
    return Turn(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "turn",
    [
        a_turn(),
        a_turn(user=None, embedding=None, sources=()),
        a_turn(user="", question="", answer="", summary=""),
        Turn(question="q", answer="a"),
    ],
    ids=["full", "bare", "empty-texts", "defaults"],
)
def test_a_decoded_turn_equals_the_encoded_one(turn: Turn) -> None:
    decoded = decode_turn(encode_turn(turn), seq=7)

    assert decoded == turn.with_seq(7)
    if turn.embedding is None:
        assert decoded.embedding is None
    else:
        assert decoded.embedding is not None
        assert decoded.embedding.dtype == np.float32
        assert decoded.embedding.tobytes() == turn.embedding.tobytes()


def test_the_embedding_is_stored_as_raw_float32_bytes() -> None:
    turn = a_turn()

    encoded = encode_turn(turn)

    assert turn.embedding is not None
    assert encoded.endswith(turn.embedding.astype("<f4").tobytes())
    assert len(encoded) < 384 * 4 + 300


def test_a_naive_creation_time_is_taken_as_utc() -> None:
    naive = datetime(2026, 1, 1, 12, 0)

    decoded = decode_turn(encode_turn(a_turn(created_at=naive)), seq=1)

    assert decoded.created_at == naive.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not a turn at all",
        encode_turn(a_turn())[:-3],
        encode_turn(a_turn())[:60],
        b"\x02" + encode_turn(a_turn())[1:],
        encode_turn(a_turn(embedding=None))[:-1] + b"\xff",
    ],
    ids=["empty", "garbage", "ragged-embedding", "truncated", "unknown-version", "bad-utf8"],
)
def test_anything_else_is_reported_as_a_corrupt_turn(raw: bytes) -> None:
    with pytest.raises(CorruptTurn):
        decode_turn(raw, seq=1)
