"""Smart context selection: the earlier turns of a thread that a new question needs.

Sending a whole thread costs tokens in proportion to its length and buries the turns that
matter. `select_context` sends, within `token_budget`:

- the `recent` last turns with their full answers: follow-ups lean on them ("and what
  about Microsoft?"), and they carry what "that company" resolves to;
- then older turns by relevance, as one compact block of notes (a turn's summary per
  line), until the budget is spent or relevance falls below `min_relevance`.

Relevance fuses two rankings, because each finds what the other misses: the cosine
between the question's embedding and each turn's stored one (paraphrase, "did she go
camping?" against "we pitched our tent by the lake"), and BM25 over stemmed words (exact
names, tickers, rare terms). Each is turned into z-scores over the thread, so neither
scale dominates by accident, and averaged with weight `lexical_weight` on BM25. A turn then
also takes `neighbour_weight` times the best score of the turns within `NEIGHBOUR_WINDOW`
of it: in a conversation the answer to a question often sits next to the turn that
matches its words ("Where did you go?" — "To the lake."). The last few older turns get up
to `recency_weight` more, falling with distance, since a question most often means what
was just discussed; and turns whose author the question names (a Slack mention, a
speaker's name) get `author_weight` more.

Count caps and a margin below the best match used to decide; on LoCoMo's long
conversations they threw away a third of the turns answers needed and left most of the
budget unused, so the budget decides now. `python -m bench.context` measures all of it.

Everything here is synchronous and cheap, so it can be measured and tested alone: about a
millisecond for a thousand turns once their words have been seen (`document_terms`
caches them per text).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal, cast

import numpy as np

from agent.prompts import defused, fenced
from agent.summary import content_terms, extractive_summary, key_entities, mentioned_names
from agent.tokens import count_tokens, truncate_to_tokens
from stores.models import Turn

Mode = Literal["full", "summary"]
Scoring = Literal["embedding", "lexical", "mixed", "none"]

# Defaults measured with `python -m bench.context` (LoCoMo dev half and our own threads).
DEFAULT_RECENT = 1
DEFAULT_TOKEN_BUDGET = 2000
DEFAULT_LEXICAL_WEIGHT = 0.35
DEFAULT_NEIGHBOUR_WEIGHT = 0.5
DEFAULT_MIN_RELEVANCE = 0.5
NEIGHBOUR_WINDOW = 2
MIN_TURNS_FOR_RELEVANCE = 8  # older turns below which `min_relevance` does not apply
# What the recent past and a named author add to a turn's relevance, in standard deviations.
DEFAULT_RECENCY_WEIGHT = 1.0
RECENCY_SPAN = 4  # turns before the recent window, the bonus falling linearly to nothing
DEFAULT_AUTHOR_WEIGHT = 1.0
# Turns whose companies a vague follow-up ("which grew faster?") most likely means.
VAGUE_FOLLOW_UP_TURNS = 4

# Chat formats spend a few tokens per message on roles and separators (OpenAI's cookbook
# counts 3–4); counting them keeps "never over budget" true of what is actually sent.
MESSAGE_OVERHEAD_TOKENS = 4
NOTES_HEADER = "Notes on earlier turns of this thread that may matter now, oldest first:"
NOTES_OPENING = f"<earlier_turns>\n{NOTES_HEADER}\n"
NOTES_CLOSING = "</earlier_turns>"
TRUNCATION_MARK = " …"

# BM25's usual constants: term-frequency saturation and length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One earlier turn as it goes to the model.

    A recent turn (`mode` "full") goes as its question and answer; an older one
    ("summary") as a line of notes with its summary. `position` is the turn's index in
    the history given; `score` is the fused relevance that chose an older turn, None for
    a recent one (chosen by position). `tokens` is what the entry adds to the messages.
    """

    seq: int
    position: int
    mode: Mode
    question: str
    text: str
    tokens: int
    score: float | None


@dataclass(frozen=True, slots=True)
class ContextSelection:
    """The turns chosen for one question, oldest first, and what sending them costs.

    `tokens` is what `messages()` costs as sent, framing included; `history_tokens` is what
    sending every turn in full would have cost, so `tokens_avoided` is the saving.
    """

    entries: tuple[ContextEntry, ...] = ()
    history_tokens: int = 0
    scoring: Scoring = "none"
    tokens: int = 0

    @property
    def tokens_avoided(self) -> int:
        return max(0, self.history_tokens - self.tokens)

    @property
    def seqs(self) -> tuple[int, ...]:
        return tuple(entry.seq for entry in self.entries)

    def messages(self) -> list[dict[str, str]]:
        """Chat messages to go before the new question: the notes, then the recent turns."""
        return _messages(self.entries)


def select_context(
    turns: Sequence[Turn],
    query: str,
    *,
    query_embedding: np.ndarray | None = None,
    recent: int = DEFAULT_RECENT,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    max_turns: int | None = None,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
    neighbour_weight: float = DEFAULT_NEIGHBOUR_WEIGHT,
    recency_weight: float = DEFAULT_RECENCY_WEIGHT,
    author_weight: float = DEFAULT_AUTHOR_WEIGHT,
) -> ContextSelection:
    """The earlier turns (oldest first) that `query` needs, within `token_budget` tokens.

    `turns` is the thread's history, oldest first, ideally with embedding, summary and
    token counts filled in at write time (missing ones are computed here, which is
    slower). `query_embedding` is the question's vector from the same embedder as the
    stored ones, or None for lexical scoring throughout; `query` is best passed through
    `retrieval_query` first.

    The last `recent` turns come first, budget permitting; a recent answer longer than
    half the budget is cut to half, so one long report cannot crowd out the rest. Older
    turns follow, most relevant first, each if it still fits, while their relevance (in
    standard deviations above the thread's mean) reaches `min_relevance`; in a thread of
    fewer than `MIN_TURNS_FOR_RELEVANCE` older turns, all of them while they fit.
    `max_turns`, when given, caps the count, recent turns first.
    """
    history_tokens = 2 * MESSAGE_OVERHEAD_TOKENS * len(turns)
    for turn in turns:  # counts inline, not through helpers: this runs over the whole thread
        history_tokens += (turn.question_tokens or count_tokens(turn.question)) + (
            turn.answer_tokens or count_tokens(turn.answer)
        )
    cap = len(turns) if max_turns is None else max(0, max_turns)
    if not turns or cap == 0 or token_budget <= 0:
        return ContextSelection(history_tokens=history_tokens)

    n_recent = max(0, min(recent, cap, len(turns)))
    answer_cap = max(1, token_budget // 2)
    recent_entries = [
        _full_entry(turns[position], position, answer_cap)
        for position in range(len(turns) - n_recent, len(turns))
    ]
    total = sum(entry.tokens for entry in recent_entries)
    while total > token_budget and len(recent_entries) > 1:
        total -= recent_entries.pop(0).tokens
    if total > token_budget and recent_entries:
        newest = recent_entries.pop()
        fitted = _fitted_entry(turns[newest.position], newest.position, token_budget)
        recent_entries = [fitted] if fitted is not None else []
        total = fitted.tokens if fitted is not None else 0

    older = turns[: len(turns) - n_recent]
    relevance, scoring = _relevance(
        older,
        query,
        query_embedding,
        lexical_weight=lexical_weight,
        neighbour_weight=neighbour_weight,
        recency_weight=recency_weight,
        author_weight=author_weight,
    )
    room = token_budget - total - _notes_frame_tokens()
    # Standard deviations over a handful of turns say little: a short thread goes whole.
    floor = min_relevance if len(older) >= MIN_TURNS_FOR_RELEVANCE else -math.inf
    older_entries = _packed(older, relevance, room, cap - n_recent, floor)
    if older_entries:
        total += _notes_tokens(older_entries)
    entries = tuple(sorted(older_entries + recent_entries, key=lambda e: e.position))
    return ContextSelection(entries, history_tokens, scoring, total)


def retrieval_query(query: str, turns: Sequence[Turn], *, last: int = VAGUE_FOLLOW_UP_TURNS) -> str:
    """`query` as the text to retrieve earlier turns with: a vague one gets its companies.

    "Which of them grew faster?" names nobody; the companies of the last few turns are
    what it most likely means, and adding them lets both rankings find the turns that
    state their figures even when those turns are no longer among the most recent.
    A question that names a company or person of its own is left as it is.
    """
    if key_entities(query):
        return query
    entities = recent_entities(turns, last=last)
    return f"{query} ({', '.join(entities)})" if entities else query


def recent_entities(turns: Sequence[Turn], *, last: int) -> list[str]:
    """Companies and tickers named in the last turns, newest turn first."""
    found: dict[str, None] = {}
    for turn in reversed(turns[-last:] if last > 0 else ()):
        for entity in mentioned_names(f"{turn.question}\n{turn.summary or turn.answer}"):
            found.setdefault(entity, None)
    return list(found)


def _relevance(
    turns: Sequence[Turn],
    query: str,
    query_embedding: np.ndarray | None,
    *,
    lexical_weight: float,
    neighbour_weight: float,
    recency_weight: float,
    author_weight: float,
) -> tuple[np.ndarray, Scoring]:
    """Per turn, the fused relevance in standard deviations above the thread's mean."""
    if not turns:
        return np.empty(0, dtype=np.float32), "none"
    lexical = _standardised(_bm25(turns, query))
    dense, scoring = _dense(turns, _unit(query_embedding), lexical)
    if dense is None:
        fused = lexical
    else:
        fused = (dense + lexical_weight * lexical) / (1.0 + lexical_weight)
    if neighbour_weight and len(fused) > 1:
        fused = fused + neighbour_weight * _best_neighbour(fused, NEIGHBOUR_WINDOW)
    fused[-RECENCY_SPAN:] += recency_weight * _RECENCY_RAMP[-min(RECENCY_SPAN, len(fused)) :]
    if author_weight:
        fused = fused + author_weight * _by_named_author(turns, query)
    return fused, scoring


_RECENCY_RAMP = np.linspace(1 / RECENCY_SPAN, 1.0, RECENCY_SPAN, dtype=np.float32)


def _by_named_author(turns: Sequence[Turn], query: str) -> np.ndarray:
    """1 for each turn whose author the question names ("what did Maria say…", a mention
    of a Slack user), else 0; all zeros when the name would not tell turns apart."""
    authors = {turn.user for turn in turns if turn.user}
    named = {a for a in authors if re.search(rf"(?<!\w){re.escape(a)}(?!\w)", query)}
    if not named:
        return np.zeros(len(turns), dtype=np.float32)
    flags = np.fromiter((turn.user in named for turn in turns), dtype=np.float32, count=len(turns))
    return flags if 0 < flags.sum() < len(turns) else np.zeros_like(flags)


def _dense(
    turns: Sequence[Turn], query_vector: np.ndarray | None, lexical: np.ndarray
) -> tuple[np.ndarray | None, Scoring]:
    """Standardised cosines, and how they were had: every turn, some (rest lexical), none.

    A turn without a vector of the query's dimension (stored before embeddings were on,
    or by another model) takes its lexical score in the dense channel, so it is ranked
    on what can be known of it rather than as merely average.
    """
    if query_vector is None:
        return None, "lexical"
    matrix = _all_vectors(turns, query_vector.shape[0])
    if matrix is not None:  # the common case, kept free of per-turn Python work
        return _standardised(matrix @ query_vector), "embedding"
    rows, matrix = _some_vectors(turns, query_vector.shape[0])
    if not rows:
        return None, "lexical"
    dense = lexical.copy()
    dense[rows] = _standardised(matrix @ query_vector)
    return dense, "mixed"


def _standardised(scores: np.ndarray) -> np.ndarray:
    """`scores` as z-scores: 0 the thread's mean, 1 one standard deviation above it."""
    scores = scores.astype(np.float32, copy=False)
    spread = float(scores.std())
    if not math.isfinite(spread) or spread < 1e-9:
        return np.zeros_like(scores)
    return (scores - float(scores.mean())) / spread


def _best_neighbour(scores: np.ndarray, window: int) -> np.ndarray:
    """Per position, the highest score among the turns within `window` of it."""
    best = np.full_like(scores, -np.inf)
    for distance in range(1, min(window, len(scores) - 1) + 1):
        np.maximum(best[distance:], scores[:-distance], out=best[distance:])
        np.maximum(best[:-distance], scores[distance:], out=best[:-distance])
    return np.maximum(best, 0.0)


def _packed(
    turns: Sequence[Turn], relevance: np.ndarray, room: int, limit: int, minimum: float
) -> list[ContextEntry]:
    """The most relevant turns whose notes fit in `room` tokens, most relevant first.

    Greedy by relevance, skipping a turn that does not fit and trying the next: a short
    relevant turn still fits where a long one did not. Exact repeats are sent once.
    """
    if room <= 0 or limit <= 0 or not len(relevance):
        return []
    candidates = np.flatnonzero(relevance >= minimum)
    # Most relevant first; on a tie the newer turn, whose figures are fresher.
    order = candidates[np.lexsort((-candidates, -relevance[candidates]))]
    chosen: list[ContextEntry] = []
    seen: set[tuple[str, str]] = set()
    for position in order.tolist():
        turn = turns[position]
        summary = _summary(turn)
        cost = _note_tokens(turn.question, summary)
        if cost > room:
            continue
        key = (turn.question.strip().lower(), turn.answer.strip())
        if key in seen:
            continue
        seen.add(key)
        score = float(relevance[position])
        chosen.append(
            ContextEntry(turn.seq, position, "summary", turn.question, summary, cost, score)
        )
        room -= cost
        if len(chosen) == limit or room < _SMALLEST_NOTE:
            break
    return chosen


def _messages(entries: Sequence[ContextEntry]) -> list[dict[str, str]]:
    notes = [entry for entry in entries if entry.mode == "summary"]
    messages = [{"role": "assistant", "content": _notes_text(notes)}] if notes else []
    for entry in entries:
        if entry.mode == "full":
            messages.append({"role": "user", "content": fenced("question", entry.question)})
            messages.append({"role": "assistant", "content": entry.text})
    return messages


def _notes_text(entries: Sequence[ContextEntry]) -> str:
    """The notes block, fenced: the header, then one line per turn, each ending in a line
    break, then the closing tag.

    cl100k's pre-tokeniser never joins a line break to the "-" opening the next line, or
    to the "<" of the closing tag, so the block costs exactly its frame plus each line's
    own count (`_note_tokens`).
    """
    lines = "".join(
        _note_line(e.question, e.text) + "\n" for e in sorted(entries, key=lambda e: e.position)
    )
    return f"{NOTES_OPENING}{lines}{NOTES_CLOSING}"


def _notes_tokens(entries: Sequence[ContextEntry]) -> int:
    return _notes_frame_tokens() + sum(entry.tokens for entry in entries)


@cache
def _notes_frame_tokens() -> int:
    """The block's fixed cost: its message framing and header line."""
    return MESSAGE_OVERHEAD_TOKENS + count_tokens(NOTES_OPENING) + count_tokens(NOTES_CLOSING)


def _note_line(question: str, summary: str) -> str:
    """A turn as a line of notes: its summary, else (a message with no answer) its text.

    Summaries are written to stand alone (company, metric, figure, period), and leaving
    the question out of the notes measured 4 points more saving at the same recall.
    """
    return f"- {defused(summary or question)}"


@lru_cache(maxsize=65_536)
def _note_tokens(question: str, summary: str) -> int:
    """What a turn's line costs in the notes block, its line break included.

    Cached: a thread's turns are weighed again for every question.
    """
    return count_tokens(_note_line(question, summary) + "\n")


_SMALLEST_NOTE = 3  # "- x" and its line break


def _summary(turn: Turn) -> str:
    if turn.summary:
        return turn.summary
    if not turn.answer:
        return ""
    return _summarised(turn.question, turn.answer)


@lru_cache(maxsize=4096)
def _summarised(question: str, answer: str) -> str:
    """A summary for a turn stored without one (before summaries existed)."""
    return extractive_summary(question, answer)


def _all_vectors(turns: Sequence[Turn], dim: int) -> np.ndarray | None:
    """Every turn's stored vector stacked, if every turn has one of `dim` dimensions.

    One pass in C (`len` of each array, then one concatenation): per-turn Python work is
    what would otherwise dominate a thousand-turn thread.
    """
    # A turn without a vector is caught below (`len(None)`), not filtered turn by turn.
    vectors = cast(list[np.ndarray], [turn.embedding for turn in turns])
    try:
        lengths = np.fromiter(map(len, vectors), dtype=np.intp, count=len(vectors))
    except TypeError:  # a turn without a vector (len(None)) or a 0-d array
        return None
    if not bool((lengths == dim).all()):
        return None
    try:
        matrix: np.ndarray = np.concatenate(vectors)
    except ValueError:  # a (dim, k) array among 1-d ones
        return None
    return matrix.reshape(len(vectors), dim).astype(np.float32, copy=False)


def _some_vectors(turns: Sequence[Turn], dim: int) -> tuple[list[int], np.ndarray]:
    """Rows of the turns whose stored vector has `dim` dimensions, and those vectors."""
    found = [
        (row, turn.embedding)
        for row, turn in enumerate(turns)
        if turn.embedding is not None and turn.embedding.ndim == 1 and len(turn.embedding) == dim
    ]
    if not found:
        return [], np.empty((0, dim), dtype=np.float32)
    matrix = np.stack([vector for _, vector in found]).astype(np.float32, copy=False)
    return [row for row, _ in found], matrix


def _unit(vector: np.ndarray | None) -> np.ndarray | None:
    if vector is None:
        return None
    vector = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return vector / norm


def _bm25(turns: Sequence[Turn], query: str) -> np.ndarray:
    """BM25 of `query` against the question and summary of each turn.

    Statistics (document frequency, average length) come from every turn given. Only
    turns sharing a term with the query are looked at term by term.
    """
    query_terms = list(dict.fromkeys(content_terms(query)))
    scores = np.zeros(len(turns), dtype=np.float32)
    if not query_terms:
        return scores
    documents = [document_terms(turn.question, turn.summary or turn.answer) for turn in turns]
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
    scores[matching] = saturated @ idf
    return scores


@lru_cache(maxsize=65_536)
def document_terms(question: str, summary: str) -> tuple[Counter[str], frozenset[str], int]:
    """Term counts, term set and length of a turn's text.

    Cached: a thread is re-read for every question, and its turns' texts do not change.
    (`bench.context` clears the cache to time a thread never seen before.)
    """
    terms = content_terms(f"{question}\n{summary}")
    counts = Counter(terms)
    return counts, frozenset(counts), len(terms)


def _full_entry(turn: Turn, position: int, answer_cap: int) -> ContextEntry:
    """`turn` with its answer, cut to `answer_cap` tokens if longer."""
    answer, answer_tokens = _within(turn.answer, _answer_tokens(turn), answer_cap)
    tokens = _fenced_tokens(turn.question) + answer_tokens + 2 * MESSAGE_OVERHEAD_TOKENS
    return ContextEntry(turn.seq, position, "full", turn.question, answer, tokens, None)


def _fitted_entry(turn: Turn, position: int, budget: int) -> ContextEntry | None:
    """`turn` alone within `budget`, or None when not even its question fits.

    Its answer is cut, and its question too if it would take over half the room.
    """
    room = budget - 2 * MESSAGE_OVERHEAD_TOKENS
    question, _ = _within(turn.question, _question_tokens(turn), room // 2)
    question_tokens = _fenced_tokens(question)
    answer_room = room - question_tokens
    if answer_room <= 0 or (turn.question and not question):
        return None
    answer, answer_tokens = _within(turn.answer, _answer_tokens(turn), answer_room)
    tokens = question_tokens + answer_tokens + 2 * MESSAGE_OVERHEAD_TOKENS
    return ContextEntry(turn.seq, position, "full", question, answer, tokens, None)


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


def _fenced_tokens(question: str) -> int:
    """What a recent turn's question costs as sent, inside its fence."""
    return count_tokens(fenced("question", question))


def _question_tokens(turn: Turn) -> int:
    return turn.question_tokens or count_tokens(turn.question)


def _answer_tokens(turn: Turn) -> int:
    return turn.answer_tokens or count_tokens(turn.answer)


@cache
def _mark_tokens() -> int:
    return count_tokens(TRUNCATION_MARK)
