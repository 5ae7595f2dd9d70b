"""Smart context selection: the few earlier turns of a thread that a new question needs.

Sending a whole thread costs tokens in proportion to its length and buries the turns that
matter. `select_context` sends:

- the `recent` last turns with their full answers, always: follow-ups lean on them
  ("and what about Microsoft?", "compare that to its peers"), and they carry the
  entities that "that company" resolves to;
- up to `top_k` older turns most relevant to the question, as summaries (which keep the
  figures): "going back to Apple's gross margin" finds a turn from far up the thread.

Relevance is the cosine between the question's embedding (computed once by the caller)
and each turn's stored embedding: a dot product, as both are unit length. Where that is
not possible — embeddings off, the embed call failed, a turn stored without a vector, or
vectors of another dimension after a model change — the turn is scored with BM25 over its
question and summary instead. The two scales differ, so each score becomes a relevance in
[0, 1] above its own threshold before older turns are ranked together.

The selection never exceeds `token_budget`: the least relevant older turns go first, then
the oldest recent ones; the newest turn's answer is cut short rather than dropped.

Everything here is synchronous and cheap, so it can be measured and tested alone: for a
thousand turns about half a millisecond with embeddings, two with BM25 (25 the first time
a process sees the turns' text); `python -m bench.context` prints the figures.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import numpy as np

from agent.summary import content_terms, extractive_summary, key_entities
from agent.tokens import count_tokens, truncate_to_tokens
from stores.models import Turn

Mode = Literal["full", "summary"]
Scoring = Literal["embedding", "lexical", "mixed", "none"]

# Defaults tuned with `python -m bench.context` on bench/data/threads.jsonl.
DEFAULT_RECENT = 2
DEFAULT_TOP_K = 8
DEFAULT_MAX_TURNS = 10
DEFAULT_TOKEN_BUDGET = 2000
DEFAULT_MIN_SIMILARITY = 0.25
DEFAULT_MIN_LEXICAL_SCORE = 0.05
DEFAULT_SIMILARITY_MARGIN = 0.2

# Chat formats spend a few tokens per message on roles and separators (OpenAI's cookbook
# counts 3–4); counting them keeps "never over budget" true of what is actually sent.
MESSAGE_OVERHEAD_TOKENS = 4
SUMMARY_LEAD = "(Summary of my earlier answer)\n"
TRUNCATION_MARK = " …"

# BM25's usual constants: term-frequency saturation and length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One earlier turn as it goes to the model: the question and its answer or summary.

    `position` is the turn's index in the history given; `score` is the relevance in
    [0, 1] that chose an older turn, None for a recent turn (chosen by position).
    """

    seq: int
    position: int
    mode: Mode
    question: str
    text: str
    tokens: int
    score: float | None

    def messages(self) -> list[dict[str, str]]:
        """The turn as a user/assistant message pair for the chat completions API."""
        answer = self.text if self.mode == "full" else SUMMARY_LEAD + self.text
        return [
            {"role": "user", "content": self.question},
            {"role": "assistant", "content": answer},
        ]


@dataclass(frozen=True, slots=True)
class ContextSelection:
    """The turns chosen for one question, oldest first, and what sending them costs.

    `history_tokens` is what sending every turn in full would have cost, so
    `tokens_avoided` is the saving to report in metrics.
    """

    entries: tuple[ContextEntry, ...] = ()
    history_tokens: int = 0
    scoring: Scoring = "none"

    @property
    def tokens(self) -> int:
        return sum(entry.tokens for entry in self.entries)

    @property
    def tokens_avoided(self) -> int:
        return max(0, self.history_tokens - self.tokens)

    @property
    def seqs(self) -> tuple[int, ...]:
        return tuple(entry.seq for entry in self.entries)

    def messages(self) -> list[dict[str, str]]:
        """The entries as chat messages, oldest first, to go before the new question."""
        return [message for entry in self.entries for message in entry.messages()]


def select_context(
    turns: Sequence[Turn],
    query: str,
    *,
    query_embedding: np.ndarray | None = None,
    recent: int = DEFAULT_RECENT,
    top_k: int = DEFAULT_TOP_K,
    max_turns: int = DEFAULT_MAX_TURNS,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    min_lexical_score: float = DEFAULT_MIN_LEXICAL_SCORE,
    similarity_margin: float = DEFAULT_SIMILARITY_MARGIN,
) -> ContextSelection:
    """The earlier turns (oldest first) that `query` needs, within `token_budget` tokens.

    `turns` is the thread's history, oldest first, each ideally with its embedding,
    summary and token counts filled in at write time (missing counts are computed here,
    which is slower). `query_embedding` is the question's vector from the same embedder
    as the stored ones, or None for lexical scoring throughout.

    The last `recent` turns are always sent, budget permitting; older ones only if their
    cosine reaches `min_similarity` and is within `similarity_margin` of the best older
    turn's (or, for turns scored lexically, their normalised BM25 reaches
    `min_lexical_score`); the best `top_k` of those. The margin lets a clear match raise the
    bar, so turns that merely share the thread's vocabulary stay out, while a question that
    matches nothing strongly (a comparison of two earlier figures) still gets several. BM25
    has no margin: its scores are too peaked, one exact name match dwarfs partial ones that
    are still needed. `max_turns` caps the count, recent turns first. A recent answer longer
    than half the budget is cut to half, so one long report cannot crowd out the rest of the
    thread.
    """
    history_tokens = 2 * MESSAGE_OVERHEAD_TOKENS * len(turns)
    for turn in turns:  # counts inline, not through helpers: this runs over the whole thread
        history_tokens += (turn.question_tokens or count_tokens(turn.question)) + (
            turn.answer_tokens or count_tokens(turn.answer)
        )
    n_recent = max(0, min(recent, max_turns, len(turns)))
    if not turns or max_turns <= 0 or token_budget <= 0:
        return ContextSelection(history_tokens=history_tokens)

    older = turns[: len(turns) - n_recent]
    relevance, scoring = _relevance(
        older,
        query,
        query_embedding,
        min_similarity=min_similarity,
        similarity_margin=similarity_margin,
        min_lexical_score=min_lexical_score,
    )
    answer_cap = max(1, token_budget // 2)
    recent_entries = [
        _full_entry(turns[position], position, answer_cap)
        for position in range(len(turns) - n_recent, len(turns))
    ]
    older_entries = [
        _summary_entry(older[position], position, float(relevance[position]))
        for position in _ranked(older, relevance, limit=min(top_k, max_turns - n_recent))
    ]

    total = sum(e.tokens for e in recent_entries) + sum(e.tokens for e in older_entries)
    while total > token_budget and older_entries:
        total -= older_entries.pop().tokens
    while total > token_budget and len(recent_entries) > 1:
        total -= recent_entries.pop(0).tokens
    if total > token_budget and recent_entries:
        newest = recent_entries.pop()
        fitted = _fitted_entry(turns[newest.position], newest.position, token_budget)
        if fitted is not None:
            recent_entries.append(fitted)

    entries = sorted(older_entries + recent_entries, key=lambda e: e.position)
    return ContextSelection(tuple(entries), history_tokens, scoring)


def recent_entities(turns: Sequence[Turn], *, last: int = DEFAULT_RECENT) -> list[str]:
    """Companies and tickers named in the last turns, newest turn first.

    What "that company" or "its peers" most likely refers to; the understanding phase can
    name them in its prompt next to the recent turns `select_context` always includes.
    """
    found: dict[str, None] = {}
    for turn in reversed(turns[-last:] if last > 0 else ()):
        for entity in key_entities(f"{turn.question}\n{turn.summary or turn.answer}"):
            found.setdefault(entity, None)
    return list(found)


def _relevance(
    turns: Sequence[Turn],
    query: str,
    query_embedding: np.ndarray | None,
    *,
    min_similarity: float,
    similarity_margin: float,
    min_lexical_score: float,
) -> tuple[np.ndarray, Scoring]:
    """Per turn, a relevance in [0, 1] if it clears its method's bar, else -1."""
    if not turns:
        return np.empty(0, dtype=np.float32), "none"
    query_vector = _unit(query_embedding)
    if query_vector is not None:
        matrix = _all_vectors(turns, query_vector.shape[0])
        if matrix is not None:  # the common case, kept free of per-turn Python work
            similarity = _cosine_relevance(matrix, query_vector, min_similarity, similarity_margin)
            return similarity, "embedding"
    relevance = _rescale(np.minimum(_bm25(turns, query), 1.0), min_lexical_score)
    if query_vector is None:
        return relevance, "lexical"
    rows, matrix = _some_vectors(turns, query_vector.shape[0])
    if not rows:
        return relevance, "lexical"
    relevance[rows] = _cosine_relevance(matrix, query_vector, min_similarity, similarity_margin)
    return relevance, "mixed"


def _cosine_relevance(
    matrix: np.ndarray, query_vector: np.ndarray, minimum: float, margin: float
) -> np.ndarray:
    """Cosines as relevances: at least `minimum`, and within `margin` of the best one."""
    similarity = matrix @ query_vector
    relevance = _rescale(similarity, minimum)
    relevance[similarity < float(similarity.max()) - margin] = -1.0
    return relevance


def _all_vectors(turns: Sequence[Turn], dim: int) -> np.ndarray | None:
    """Every turn's stored vector stacked, if every turn has one of `dim` dimensions.

    One pass in C (`len` of each array, then one concatenation): per-turn Python work is
    what would otherwise dominate a thousand-turn thread.
    """
    vectors = [turn.embedding for turn in turns]
    try:
        lengths = np.fromiter(map(len, vectors), dtype=np.intp, count=len(vectors))
    except TypeError:  # a turn without a vector (len(None)) or a 0-d array
        return None
    if not bool((lengths == dim).all()):
        return None
    try:
        matrix = np.concatenate(vectors)
    except ValueError:  # a (dim, k) array among 1-d ones
        return None
    return matrix.reshape(len(vectors), dim).astype(np.float32, copy=False)


def _some_vectors(turns: Sequence[Turn], dim: int) -> tuple[list[int], np.ndarray]:
    """Rows of the turns whose stored vector has `dim` dimensions, and those vectors."""
    rows = [
        row
        for row, turn in enumerate(turns)
        if turn.embedding is not None and turn.embedding.ndim == 1 and len(turn.embedding) == dim
    ]
    if not rows:
        return [], np.empty((0, dim), dtype=np.float32)
    matrix = np.stack([turns[row].embedding for row in rows]).astype(np.float32, copy=False)
    return rows, matrix


def _unit(vector: np.ndarray | None) -> np.ndarray | None:
    if vector is None:
        return None
    vector = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return vector / norm


def _rescale(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Scores at or above `threshold` mapped onto [0, 1]; the rest to -1."""
    span = max(1.0 - threshold, 1e-6)
    return np.where(scores >= threshold, (scores - threshold) / span, -1.0)


def _bm25(turns: Sequence[Turn], query: str) -> np.ndarray:
    """BM25 of `query` against the question and summary of each turn.

    Statistics (document frequency, average length) come from every turn given, so when
    only a handful of turns lack vectors they are scored against the whole thread. The
    score is divided by the sum of the query terms' idf — what an average-length turn
    mentioning every term once would get — so 1.0 means "all of it, once", whatever the
    query's length. Only turns sharing a term with the query are looked at term by term.
    """
    query_terms = list(dict.fromkeys(content_terms(query)))
    scores = np.zeros(len(turns), dtype=np.float32)
    if not query_terms:
        return scores
    documents = [_document_terms(turn.question, turn.summary or turn.answer) for turn in turns]
    wanted = frozenset(query_terms)
    matching = [row for row, (_, terms, _) in enumerate(documents) if not wanted.isdisjoint(terms)]
    if not matching:
        return scores
    counts = np.array(
        [[documents[row][0].get(term, 0) for term in query_terms] for row in matching],
        dtype=np.float32,
    )
    frequency = (counts > 0).sum(axis=0)
    idf = np.log1p((len(documents) - frequency + 0.5) / (frequency + 0.5))
    average_length = sum(length for _, _, length in documents) / len(documents) or 1.0
    lengths = np.array([documents[row][2] for row in matching], dtype=np.float32)
    norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / average_length)
    saturated = counts * (BM25_K1 + 1) / (counts + norm[:, None])
    scores[matching] = saturated @ idf / idf.sum()
    return scores


@lru_cache(maxsize=16_384)
def _document_terms(question: str, summary: str) -> tuple[Counter[str], frozenset[str], int]:
    """Term counts, term set and length of a turn's text.

    Cached: a thread is re-read for every question, and its turns' texts do not change.
    """
    terms = content_terms(f"{question}\n{summary}")
    counts = Counter(terms)
    return counts, frozenset(counts), len(terms)


def _ranked(turns: Sequence[Turn], relevance: np.ndarray, *, limit: int) -> list[int]:
    """Positions of up to `limit` relevant turns, most relevant first, exact repeats skipped."""
    if limit <= 0:
        return []
    candidates = np.flatnonzero(relevance >= 0)
    # Most relevant first; on a tie the newer turn, whose figures are fresher.
    order = candidates[np.lexsort((-candidates, -relevance[candidates]))]
    chosen: list[int] = []
    seen: set[tuple[str, str]] = set()
    for position in order.tolist():
        turn = turns[position]
        key = (turn.question.strip().lower(), turn.answer.strip())
        if key in seen:
            continue
        seen.add(key)
        chosen.append(position)
        if len(chosen) == limit:
            break
    return chosen


def _full_entry(turn: Turn, position: int, answer_cap: int) -> ContextEntry:
    """`turn` with its answer, cut to `answer_cap` tokens if longer."""
    answer, answer_tokens = _within(turn.answer, _answer_tokens(turn), answer_cap)
    tokens = _question_tokens(turn) + answer_tokens + 2 * MESSAGE_OVERHEAD_TOKENS
    return ContextEntry(turn.seq, position, "full", turn.question, answer, tokens, None)


def _fitted_entry(turn: Turn, position: int, budget: int) -> ContextEntry | None:
    """`turn` alone within `budget`, or None when not even its question fits.

    Its answer is cut, and its question too if it would take over half the room.
    """
    room = budget - 2 * MESSAGE_OVERHEAD_TOKENS
    question, question_tokens = _within(turn.question, _question_tokens(turn), room // 2)
    answer_room = room - question_tokens
    if answer_room <= 0 or (turn.question and not question):
        return None
    answer, answer_tokens = _within(turn.answer, _answer_tokens(turn), answer_room)
    tokens = question_tokens + answer_tokens + 2 * MESSAGE_OVERHEAD_TOKENS
    return ContextEntry(turn.seq, position, "full", question, answer, tokens, None)


def _summary_entry(turn: Turn, position: int, score: float) -> ContextEntry:
    """`turn` as its summary, counted as sent: lead included.

    The lead ends in a newline, so its tokens and the summary's simply add up (the tests
    check the sum against the rendered text) and the count stored at write time serves;
    a summary that itself starts with white space is counted afresh.
    """
    summary = turn.summary or extractive_summary(turn.question, turn.answer)
    if turn.summary and turn.summary_tokens and not summary[:1].isspace():
        summary_tokens = turn.summary_tokens
    else:
        summary_tokens = count_tokens(summary)
    tokens = _question_tokens(turn) + _lead_tokens() + summary_tokens + 2 * MESSAGE_OVERHEAD_TOKENS
    return ContextEntry(turn.seq, position, "summary", turn.question, summary, tokens, score)


def _within(text: str, tokens: int, max_tokens: int) -> tuple[str, int]:
    """`text` and its token count, cut (and marked as cut) to at most `max_tokens`."""
    if tokens <= max_tokens:
        return text, tokens
    keep = max_tokens - _mark_tokens()
    while keep > 0:
        cut = truncate_to_tokens(text, keep).rstrip() + TRUNCATION_MARK
        cut_tokens = count_tokens(cut)
        if cut_tokens <= max_tokens:
            return cut, cut_tokens
        keep -= cut_tokens - max_tokens  # the mark merged differently at the cut; retry
    return "", 0


def _question_tokens(turn: Turn) -> int:
    return turn.question_tokens or count_tokens(turn.question)


def _answer_tokens(turn: Turn) -> int:
    return turn.answer_tokens or count_tokens(turn.answer)


@cache
def _lead_tokens() -> int:
    return count_tokens(SUMMARY_LEAD)


@cache
def _mark_tokens() -> int:
    return count_tokens(TRUNCATION_MARK)
