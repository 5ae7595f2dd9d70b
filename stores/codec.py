"""The binary form of a turn, for stores that keep a turn as one opaque value (Redis).

`load` decodes a hundred turns per question, so the format is built for decoding speed: a
fixed little-endian header of numbers and lengths, every text as raw UTF-8, and the
embedding as raw float32 bytes at the end, read in place (1,536 bytes for 384 dimensions,
where a JSON number list costs ~8 KB and a parse). On this project's 2-core machine a
realistic turn decodes in about half the time that one JSON document per turn takes.

Layout (`<` little-endian):

    B   format version (1)
    q   created_at, microseconds since the Unix epoch (UTC)
    i   question_tokens, answer_tokens, summary_tokens
    I   byte lengths of question, answer, summary
    i   byte length of user (-1 when there is no user)
    I   number of sources, n
    2nI byte lengths of each source's title and url
    …   question, answer, summary, user, each source's title and url, then the embedding

The sequence number is not stored: it is the turn's position in its session.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np

from stores.models import Source, Turn, embedding_to_bytes

FORMAT_VERSION = 1
FLOAT32 = np.dtype("<f4")
_HEADER = struct.Struct("<Bqiii III iI")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class CorruptTurn(ValueError):
    """A stored turn cannot be decoded; stores skip it with a warning."""


def encode_turn(turn: Turn) -> bytes:
    created = turn.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    texts = [turn.question.encode(), turn.answer.encode(), turn.summary.encode()]
    user = None if turn.user is None else turn.user.encode()
    source_texts = [text.encode() for s in turn.sources for text in (s.title, s.url)]
    header = _HEADER.pack(
        FORMAT_VERSION,
        (created - _EPOCH) // _MICROSECOND,
        turn.question_tokens,
        turn.answer_tokens,
        turn.summary_tokens,
        *(len(text) for text in texts),
        -1 if user is None else len(user),
        len(turn.sources),
    )
    source_lengths = _lengths(len(source_texts)).pack(*map(len, source_texts))
    embedding = embedding_to_bytes(turn.embedding) or b""
    return b"".join([header, source_lengths, *texts, user or b"", *source_texts, embedding])


@cache
def _lengths(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def _embedding(raw: bytes, start: int) -> np.ndarray | None:
    """The float32 values from `start` to the end, read in place (no copy of the bytes)."""
    size = len(raw) - start
    if size == 0:
        return None
    if size % 4:
        raise CorruptTurn(f"embedding of {size} bytes is not float32")
    return np.frombuffer(raw, dtype=FLOAT32, offset=start)


def decode_turn(raw: bytes, *, seq: int) -> Turn:
    """The turn `encode_turn` wrote; raises `CorruptTurn` for anything else."""
    try:
        return _decode(raw, seq)
    except CorruptTurn:
        raise
    except (ValueError, TypeError, OverflowError, struct.error) as exc:
        raise CorruptTurn(f"{type(exc).__name__}: {exc}") from exc


def _decode(raw: bytes, seq: int) -> Turn:
    (
        version,
        created_us,
        question_tokens,
        answer_tokens,
        summary_tokens,
        question_len,
        answer_len,
        summary_len,
        user_len,
        source_count,
    ) = _HEADER.unpack_from(raw)
    if version != FORMAT_VERSION:
        raise CorruptTurn(f"unknown turn format version {version}")
    source_lengths = _lengths(2 * source_count).unpack_from(raw, _HEADER.size)
    question_start = _HEADER.size + 4 * len(source_lengths)
    answer_start = question_start + question_len
    summary_start = answer_start + answer_len
    user_start = summary_start + summary_len
    position = user_start + max(user_len, 0)
    source_texts = []
    for length in source_lengths:
        source_texts.append(raw[position : position + length].decode())
        position += length
    if position > len(raw):
        raise CorruptTurn(f"field lengths overrun a {len(raw)}-byte turn")
    return Turn(
        question=raw[question_start:answer_start].decode(),
        answer=raw[answer_start:summary_start].decode(),
        summary=raw[summary_start:user_start].decode(),
        user=None if user_len < 0 else raw[user_start : user_start + user_len].decode(),
        embedding=_embedding(raw, position),
        question_tokens=question_tokens,
        answer_tokens=answer_tokens,
        summary_tokens=summary_tokens,
        sources=tuple(map(Source, source_texts[::2], source_texts[1::2])),
        seq=seq,
        created_at=_EPOCH + created_us * _MICROSECOND,
    )
