"""Context selection on LoCoMo's long conversations, side by side with plain retrieval.

LoCoMo (Maharana et al., ACL 2024) holds long multi-session conversations whose questions
name the utterances (`evidence`) an answer needs. Each utterance becomes one stored turn,
built as the agent writes one (`stored_turn`: extractive summary, MiniLM vector of
`turn_text`, token counts): its question is "Speaker: text", with a shared photo's caption
appended, its answer empty, its user the speaker (as a Slack turn's is its author). Every
question of categories 1–4 (multi-hop, temporal, open-domain, single-hop; 5 is
adversarial, with no evidence to find) then selects from the whole conversation with a
budget of 10, 20 and 30 % of the conversation's tokens.

Selectors, all with the same budget:

- `dexter`: the agent's own path, `retrieval_query` then `select_context` with its shipped
  defaults and only `token_budget` passed; its cost is what it sends, framing included;
- `recency`: the newest turns that fit;
- `bm25`, `minilm`, `rrf`: the last 4 turns, then every other turn ranked by BM25 (plain
  words, no stemming), by MiniLM cosine, or by reciprocal rank fusion of the two (k = 60),
  each added while it fits; their cost is the turns' own tokens, no framing at all.

A question counts for `recall_all` when every evidence turn was selected, for `recall_any`
when one was. `token_share` is tokens sent over the conversation's tokens.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.context import retrieval_query, select_context
from agent.embeddings import turn_text
from agent.orchestrator import stored_turn
from agent.summary import STOPWORDS, extractive_summary
from stores.models import Turn

BUDGETS = (0.1, 0.2, 0.3)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
BASELINE_RECENT = 4
RRF_K = 60
BASELINES = ("recency", "bm25", "minilm", "rrf")
_DIALOGUE_ID = re.compile(r"D(\d+):(\d+)")
_SESSION = re.compile(r"session_(\d+)")
_WORD = re.compile(r"[a-z0-9]+")

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Question:
    text: str
    category: int
    evidence: list[int]


@dataclass
class Conversation:
    """One LoCoMo conversation as a stored thread, with its questions."""

    name: str
    turns: list[Turn]
    questions: list[Question]

    @property
    def tokens(self) -> int:
        return sum(turn.question_tokens + turn.answer_tokens for turn in self.turns)


@dataclass
class Tally:
    """Recall and cost of one selector at one budget."""

    questions: int = 0
    all_found: int = 0
    any_found: int = 0
    sent: int = 0
    thread: int = 0
    by_category: Counter[int] = field(default_factory=Counter)
    asked: Counter[int] = field(default_factory=Counter)

    def add(self, question: Question, chosen: set[int], sent: int, thread: int) -> None:
        found = [position in chosen for position in question.evidence]
        self.questions += 1
        self.all_found += all(found)
        self.any_found += any(found)
        self.sent += sent
        self.thread += thread
        self.asked[question.category] += 1
        self.by_category[question.category] += all(found)

    def figures(self) -> dict[str, float]:
        return {
            "recall_all": round(self.all_found / self.questions, 4) if self.questions else 0.0,
            "recall_any": round(self.any_found / self.questions, 4) if self.questions else 0.0,
            "token_share": round(self.sent / self.thread, 4) if self.thread else 0.0,
        }

    def category_recall(self, category: int) -> float | None:
        asked = self.asked[category]
        return self.by_category[category] / asked if asked else None


@dataclass
class Result:
    """Every selector's tallies per budget, and the time `dexter` took per selection."""

    tallies: dict[str, dict[float, Tally]]
    selection_ms: list[float]
    turns_per_selection: list[int]
    conversations: int

    def as_json(self) -> dict:
        return {
            "selectors": {
                name: {str(budget): tally.figures() for budget, tally in by_budget.items()}
                for name, by_budget in self.tallies.items()
            },
            "questions": next(iter(self.tallies["dexter"].values())).questions,
            "conversations": self.conversations,
            "dexter_ms_per_selection": round(float(np.median(self.selection_ms)), 3),
        }


def load_conversation(path: Path, embed: Embed) -> Conversation:
    """A LoCoMo file as stored turns, oldest first, and its questions with evidence turns."""
    data = json.loads(path.read_text(encoding="utf-8"))
    sessions = sorted(
        (int(match.group(1)), key)
        for key in data
        if (match := _SESSION.fullmatch(key)) and isinstance(data[key], list)
    )
    utterances = [u for _, key in sessions for u in data[key] if isinstance(u, dict)]
    questions_text = [_utterance_text(u) for u in utterances]
    summaries = [extractive_summary(text, "") for text in questions_text]
    vectors = embed([turn_text(q, s) for q, s in zip(questions_text, summaries, strict=True)])
    turns = [
        stored_turn(question, "", summary, vector, user=utterance.get("speaker")).with_seq(
            index + 1
        )
        for index, (utterance, question, summary, vector) in enumerate(
            zip(utterances, questions_text, summaries, vectors, strict=True)
        )
    ]
    position = {u.get("dia_id"): index for index, u in enumerate(utterances)}
    questions = []
    for item in data.get("qa", []):
        category = _category(item.get("category"))
        if category not in CATEGORIES or not item.get("question"):
            continue
        ids = _DIALOGUE_ID.findall(" ".join(str(e) for e in item.get("evidence") or []))
        evidence = sorted({position[f"D{a}:{b}"] for a, b in ids if f"D{a}:{b}" in position})
        if evidence:  # a few questions cite utterances the file does not hold
            questions.append(Question(str(item["question"]), category, evidence))
    return Conversation(path.stem, turns, questions)


def _category(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _utterance_text(utterance: dict) -> str:
    text = f"{utterance.get('speaker', '')}: {utterance.get('text', '')}"
    caption = utterance.get("blip_caption")
    return f"{text} [shares {caption}]" if caption else text


def load_folder(folder: Path, embed: Embed) -> list[Conversation]:
    return [load_conversation(path, embed) for path in sorted(folder.glob("*.json"))]


def run(
    conversations: list[Conversation],
    embed: Embed,
    variants: dict[str, dict[str, float]] | None = None,
) -> Result:
    """Every selector on every question; `variants` adds rows of `dexter` with some of
    `select_context`'s options changed (an ablation), named by the dict's keys."""
    variants = variants or {}
    tallies = {
        name: {budget: Tally() for budget in BUDGETS} for name in ("dexter", *variants, *BASELINES)
    }
    selection_ms: list[float] = []
    sizes: list[int] = []
    for conversation in conversations:
        turns = conversation.turns
        costs = np.array([t.question_tokens + t.answer_tokens for t in turns])
        thread = int(costs.sum())
        matrix = np.stack([t.embedding for t in turns])
        stats = _Bm25Index([t.question for t in turns])
        wanted = [retrieval_query(q.text, turns) for q in conversation.questions]
        dexter_vectors = embed(wanted)
        plain_vectors = embed([q.text for q in conversation.questions])
        for question, query, query_vector, plain_vector in zip(
            conversation.questions, wanted, dexter_vectors, plain_vectors, strict=True
        ):
            rankings = _baseline_rankings(question.text, plain_vector, matrix, stats)
            for budget in BUDGETS:
                room = int(budget * thread)
                start = time.perf_counter()
                selection = select_context(
                    turns, query, query_embedding=query_vector, token_budget=room
                )
                selection_ms.append((time.perf_counter() - start) * 1000)
                sizes.append(len(turns))
                chosen = {entry.position for entry in selection.entries}
                tallies["dexter"][budget].add(question, chosen, selection.tokens, thread)
                for name, options in variants.items():
                    variant = select_context(
                        turns, query, query_embedding=query_vector, token_budget=room, **options
                    )
                    chosen = {entry.position for entry in variant.entries}
                    tallies[name][budget].add(question, chosen, variant.tokens, thread)
                for name, order in rankings.items():
                    chosen, sent = _filled(order, costs, room)
                    tallies[name][budget].add(question, chosen, sent, thread)
    return Result(tallies, selection_ms, sizes, len(conversations))


def _baseline_rankings(
    question: str, vector: np.ndarray, matrix: np.ndarray, stats: _Bm25Index
) -> dict[str, np.ndarray]:
    n = matrix.shape[0]
    lexical = stats.scores(question)
    dense = matrix @ vector
    by_lexical = np.argsort(-lexical, kind="stable")
    by_dense = np.argsort(-dense, kind="stable")
    fused = np.zeros(n)
    for order in (by_lexical, by_dense):
        fused[order] += 1.0 / (RRF_K + 1 + np.arange(n))
    return {
        "recency": np.arange(n)[::-1],
        "bm25": _after_last(by_lexical, n),
        "minilm": _after_last(by_dense, n),
        "rrf": _after_last(np.argsort(-fused, kind="stable"), n),
    }


def _after_last(order: np.ndarray, n: int) -> np.ndarray:
    """The last `BASELINE_RECENT` turns first, then `order`."""
    last = np.arange(max(0, n - BASELINE_RECENT), n)
    return np.concatenate([last, order[~np.isin(order, last)]])


def _filled(order: np.ndarray, costs: np.ndarray, room: int) -> tuple[set[int], int]:
    """Turns taken in `order` while each still fits `room`; the rest skipped."""
    chosen: set[int] = set()
    sent = 0
    for position in order.tolist():
        cost = int(costs[position])
        if sent + cost <= room:
            chosen.add(position)
            sent += cost
    return chosen, sent


class _Bm25Index:
    """Textbook BM25 (k1 1.2, b 0.75) over lower-case words less stopwords, no stemming."""

    def __init__(self, documents: Sequence[str]) -> None:
        self.terms = [Counter(_words(text)) for text in documents]
        self.lengths = np.array([sum(c.values()) for c in self.terms], dtype=float)
        self.average = float(self.lengths.mean()) or 1.0
        frequency: Counter[str] = Counter()
        for counts in self.terms:
            frequency.update(counts.keys())
        n = len(documents)
        self.idf = {t: math.log1p((n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self.terms))
        norm = 1.2 * (1 - 0.75 + 0.75 * self.lengths / self.average)
        for term in dict.fromkeys(_words(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            tf = np.array([counts.get(term, 0) for counts in self.terms], dtype=float)
            out += idf * tf * 2.2 / (tf + norm)
        return out


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def print_tables(result: Result) -> None:
    names = list(result.tallies)
    print("| selector | " + " | ".join(f"recall_all @{b:.0%}" for b in BUDGETS), end=" | ")
    print(" | ".join(f"recall_any @{b:.0%}" for b in BUDGETS) + " | tokens sent / thread |")
    print("|---|" + "---:|" * (2 * len(BUDGETS) + 1))
    for name in names:
        figures = [result.tallies[name][b].figures() for b in BUDGETS]
        cells = [f"{f['recall_all']:.3f}" for f in figures]
        cells += [f"{f['recall_any']:.3f}" for f in figures]
        shares = " / ".join(f"{f['token_share']:.3f}" for f in figures)
        print(f"| {name} | " + " | ".join(cells) + f" | {shares} |")
    print("\nrecall_all by category (10 / 20 / 30 %):\n")
    print("| selector | " + " | ".join(f"{c} {label}" for c, label in CATEGORIES.items()) + " |")
    print("|---|" + "---:|" * len(CATEGORIES))
    for name in names:
        cells = []
        for category in CATEGORIES:
            values = [result.tallies[name][b].category_recall(category) for b in BUDGETS]
            cells.append(" / ".join("–" if v is None else f"{v:.2f}" for v in values))
        print(f"| {name} | " + " | ".join(cells) + " |")
    tally = next(iter(result.tallies["dexter"].values()))
    asked = ", ".join(f"{tally.asked[c]} {label}" for c, label in CATEGORIES.items())
    ms = np.array(result.selection_ms)
    per_thousand = ms / np.array(result.turns_per_selection) * 1000
    print(
        f"\n{tally.questions} questions ({asked}) over {result.conversations} conversations. "
        f"`dexter` selection: median {np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms "
        f"per question; median {np.median(per_thousand):.2f} ms per 1,000 turns "
        "(query embedding excluded)."
    )
