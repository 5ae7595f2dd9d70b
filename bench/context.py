"""How well smart context selection keeps what questions need, at what token cost and speed.

    .venv/bin/python -m bench.context                    # our threads, then LoCoMo's dev half
    .venv/bin/python -m bench.context --locomo DIR       # LoCoMo only, on any folder of its files
    .venv/bin/python -m bench.context --json out.json    # also write LoCoMo's figures as JSON
    .venv/bin/python -m bench.context --sweep            # our threads over a grid of settings
    .venv/bin/python -m bench.context --ablation         # also each part switched off

Our threads (bench/data/threads.jsonl): every turn is summarised (`extractive_summary`),
counted and embedded once, from `turn_text`, as the orchestrator writes it (see
`agent.embeddings`; two more rows show the alternatives). Then every labelled follow-up
runs the agent's selection path over the turns before it (`retrieval_query`, its
embedding, `select_context` with the shipped defaults), and we measure:

- recall: the share of the turns a follow-up needs (its `needs` label) that were sent;
  "older" recall counts only needed turns outside the recent window, the hard part;
- tokens: what the selection costs against sending the whole history (both as chat
  messages, answers in full);
- time: `select_context` alone on histories of 100 and 1,000 turns (threads
  concatenated), excluding the one query embedding, which is timed separately.

LoCoMo: see `bench.locomo`. Its folder defaults to ../shared/data/locomo-dev beside this
checkout; where it is absent that part is skipped with a message.

Figures are printed, never asserted: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent import context
from agent.context import retrieval_query, select_context
from agent.embeddings import LocalEmbedder, turn_text
from agent.orchestrator import stored_turn
from agent.summary import extractive_summary
from bench import locomo
from stores.models import Turn, embedding_from_bytes, embedding_to_bytes

THREADS_PATH = Path(__file__).parent / "data" / "threads.jsonl"
LOCOMO_PATH = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "locomo-dev"
MIN_THREAD_TURNS = 20
TIMING_SIZES = (100, 1000)
TIMING_REPEATS = 300

Embed = Callable[[Sequence[str]], np.ndarray]
VectorText = Callable[[str, str], str]
OPENAI_SKIPPED = (
    "openai: skipped — no network here but PyPI, so the embeddings API cannot be reached; "
    "its vectors would go through the same cosine path as the local ones."
)


@dataclass
class Thread:
    """A benchmark thread: its turns as stored, the query vectors and the labels."""

    id: str
    turns: list[Turn]
    embed: Embed | None
    needs: list[list[int]]
    kinds: list[str]

    def query(self, index: int) -> tuple[str, np.ndarray | None]:
        """Follow-up `index` as the agent searches with it: text and embedding."""
        text = retrieval_query(self.turns[index].question, self.turns[:index])
        return text, None if self.embed is None else self.embed([text])[0]


@dataclass
class Score:
    """Totals over the follow-ups of one run."""

    follow_ups: int = 0
    needed: int = 0
    found: int = 0
    needed_older: int = 0
    found_older: int = 0
    complete: int = 0
    sent_tokens: int = 0
    history_tokens: int = 0
    sent_turns: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    @property
    def recall(self) -> float:
        return self.found / self.needed if self.needed else 1.0

    @property
    def older_recall(self) -> float:
        return self.found_older / self.needed_older if self.needed_older else 1.0

    @property
    def reduction(self) -> float:
        return 1 - self.sent_tokens / self.history_tokens if self.history_tokens else 0.0


def load_threads(path: Path = THREADS_PATH) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        threads = [json.loads(line) for line in lines if line.strip()]
    return [t for t in threads if len(t["turns"]) >= MIN_THREAD_TURNS]


def question_and_summary_text(question: str, summary: str) -> str:
    return f"{question}\n{summary}"


def prepare(
    raw: list[dict], embed: Embed | None, vector_text: VectorText | None = turn_text
) -> list[Thread]:
    """Turns as the orchestrator stores them (`stored_turn`), their vectors round-tripped
    through bytes as a store returns them.

    A turn's vector is `embed(vector_text(question, summary))`, computed at write time;
    with `vector_text=None` it is its question's vector, as if reused from the query.
    """
    threads = []
    for thread in raw:
        items = thread["turns"]
        questions = [item["question"] for item in items]
        summaries = [extractive_summary(item["question"], item["answer"]) for item in items]
        vectors: list[np.ndarray | None] = [None] * len(items)
        if embed is not None:
            texts = [
                question if vector_text is None else vector_text(question, summary)
                for question, summary in zip(questions, summaries, strict=True)
            ]
            vectors = list(embed(texts))
        turns = [
            stored_turn(
                item["question"],
                item["answer"],
                summary,
                embedding_from_bytes(embedding_to_bytes(vector)),
            ).with_seq(index + 1)
            for index, (item, summary, vector) in enumerate(
                zip(items, summaries, vectors, strict=True)
            )
        ]
        threads.append(
            Thread(
                id=thread["id"],
                turns=turns,
                embed=embed,
                needs=[item.get("needs", []) for item in items],
                kinds=[item["kind"] for item in items],
            )
        )
    return threads


def evaluate(threads: list[Thread], **options: Any) -> Score:
    """Run every labelled follow-up through the agent's selection path and tally."""
    score = Score()
    recent = int(options.get("recent", context.DEFAULT_RECENT))
    for thread in threads:
        for index, needs in enumerate(thread.needs):
            if not needs:
                continue
            history = thread.turns[:index]
            query, vector = thread.query(index)
            selection = select_context(history, query, query_embedding=vector, **options)
            sent = {entry.position for entry in selection.entries}
            found = sum(1 for need in needs if need in sent)
            older = [need for need in needs if need < index - recent]
            score.follow_ups += 1
            score.needed += len(needs)
            score.found += found
            score.needed_older += len(older)
            score.found_older += sum(1 for need in older if need in sent)
            score.complete += found == len(needs)
            score.sent_tokens += selection.tokens
            score.history_tokens += selection.history_tokens
            score.sent_turns += len(selection.entries)
            kind = score.by_kind[thread.kinds[index]]
            kind[0] += found
            kind[1] += len(needs)
    return score


def time_selection(
    threads: list[Thread], size: int, *, lexical: bool, cold: bool
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per `select_context` call on `size` turns.

    CPU time (this thread's) is reported next to wall time because the machine is shared:
    it leaves out the time the process waited for a core, not the work it did.
    """
    pool = [turn for thread in threads for turn in thread.turns]
    history = tuple(pool[i % len(pool)] for i in range(size))
    query_thread = threads[0]
    probes = [i for i, needs in enumerate(query_thread.needs) if needs] or [1]
    queries = [query_thread.query(index) for index in probes]
    wall, cpu = [], []
    for repeat in range(TIMING_REPEATS):
        query, vector = queries[repeat % len(queries)]
        if lexical:
            vector = None
        if cold:
            context.document_terms.cache_clear()
        start, start_cpu = time.perf_counter(), time.thread_time()
        select_context(history, query, query_embedding=vector)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def local_embed() -> tuple[Embed, LocalEmbedder]:
    """The local model's `embed`, remembering texts it has seen: variants share questions."""
    embedder = LocalEmbedder()
    seen: dict[str, np.ndarray] = {}

    def embed(texts: Sequence[str]) -> np.ndarray:
        new = [text for text in dict.fromkeys(texts) if text not in seen]
        if new:
            seen.update(zip(new, embedder.embed_blocking(new), strict=True))
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([seen[text] for text in texts])

    return embed, embedder


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def print_quality(rows: list[tuple[str, Score]]) -> None:
    print(
        "| backend | follow-ups | needed-turn recall | older-turn recall | all needs met "
        "| history tokens sent | full history tokens | reduction | turns sent (mean) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in rows:
        print(
            f"| {name} | {s.follow_ups} | {s.recall:.1%} ({s.found}/{s.needed}) "
            f"| {s.older_recall:.1%} ({s.found_older}/{s.needed_older}) "
            f"| {s.complete / s.follow_ups:.1%} | {s.sent_tokens:,} | {s.history_tokens:,} "
            f"| {s.reduction:.1%} | {s.sent_turns / s.follow_ups:.1f} |"
        )


def print_kinds(rows: list[tuple[str, Score]]) -> None:
    kinds = sorted({kind for _, s in rows for kind in s.by_kind})
    print("| follow-up kind | " + " | ".join(name for name, _ in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for kind in kinds:
        cells = []
        for _, s in rows:
            found, needed = s.by_kind.get(kind, [0, 0])
            cells.append(f"{found / needed:.1%} of {needed}" if needed else "–")
        print(f"| {kind} | " + " | ".join(cells) + " |")


def print_timing(threads: list[Thread]) -> None:
    print("| scoring | history | wall p50 ms | wall p95 ms | CPU p50 ms | CPU ms per 1,000 turns |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, lexical, cold in (
        ("embeddings (384-d)", False, False),
        ("lexical BM25, turns seen before", True, False),
        ("lexical BM25, turns never seen", True, True),
    ):
        for size in TIMING_SIZES:
            wall, cpu = time_selection(threads, size, lexical=lexical, cold=cold)
            cpu_p50 = statistics.median(cpu)
            print(
                f"| {label} | {size:,} turns | {statistics.median(wall):.3f} "
                f"| {percentile(wall, 95):.3f} | {cpu_p50:.3f} | {cpu_p50 * 1000 / size:.3f} |"
            )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nLoad average while timing: {load} on {os.cpu_count()} cores.")


def time_query_embedding(embedder: LocalEmbedder, threads: list[Thread]) -> float:
    questions = [turn.question for thread in threads for turn in thread.turns][:200]
    embedder.embed_blocking(questions[:1])
    start = time.perf_counter()
    for question in questions:
        embedder.embed_blocking([question])
    return (time.perf_counter() - start) * 1000 / len(questions)


SWEEP = {
    "local": {
        "min_relevance": (0.0, 0.5, 1.0, 1.5, 2.0),
        "neighbour_weight": (0.0, 0.5),
        "token_budget": (1000, 2000),
    },
    "lexical": {
        "min_relevance": (0.0, 0.5, 1.0, 1.5, 2.0),
        "neighbour_weight": (0.0, 0.5),
        "token_budget": (1000, 2000),
    },
}


def sweep(threads_by_backend: dict[str, list[Thread]]) -> None:
    """Recall and savings for every combination in `SWEEP`, one table per backend."""
    for backend, grid in SWEEP.items():
        print(f"\n### {backend}\n")
        print("| " + " | ".join(grid) + " | recall | older recall | reduction |")
        print("|" + "---:|" * (len(grid) + 3))
        for values in itertools.product(*grid.values()):
            options = dict(zip(grid, values, strict=True))
            s = evaluate(threads_by_backend[backend], **options)
            cells = " | ".join(str(value) for value in values)
            print(f"| {cells} | {s.recall:.1%} | {s.older_recall:.1%} | {s.reduction:.1%} |")


def run_threads(embed: Embed, embedder: LocalEmbedder, *, grid: bool, ablation: bool) -> None:
    raw = load_threads()
    start = time.perf_counter()
    threads = {
        "local": prepare(raw, embed),
        "lexical": prepare(raw, None),
    }
    prepared = time.perf_counter() - start
    turns = sum(len(t.turns) for t in threads["local"])
    if grid:
        sweep(threads)
        return
    threads["local, turn vector = question + summary"] = prepare(
        raw, embed, question_and_summary_text
    )
    threads["local, turn vector = question"] = prepare(raw, embed, None)

    print(
        f"## Context selection on {len(raw)} threads of {MIN_THREAD_TURNS}+ turns "
        f"({turns} turns; prepared in {prepared:.1f} s)\n"
    )
    print(
        f"Defaults: recent={context.DEFAULT_RECENT}, token_budget={context.DEFAULT_TOKEN_BUDGET}, "
        f"min_relevance={context.DEFAULT_MIN_RELEVANCE}, "
        f"lexical_weight={context.DEFAULT_LEXICAL_WEIGHT}, "
        f"neighbour_weight={context.DEFAULT_NEIGHBOUR_WEIGHT} "
        f"(window {context.NEIGHBOUR_WINDOW})\n"
    )
    rows = [(name, evaluate(backend_threads)) for name, backend_threads in threads.items()]
    if ablation:
        rows += [
            (name, evaluate(threads["local"], **options)) for name, options in ABLATIONS.items()
        ]
    print_quality(rows)
    print(f"\n{OPENAI_SKIPPED}\n")
    print("### Needed-turn recall by follow-up kind\n")
    print_kinds(rows)
    print("\n### Selection time (query embedding excluded)\n")
    print_timing(threads["local"])
    per_query = time_query_embedding(embedder, threads["local"])
    print(f"\nOne query embedding (local int8 MiniLM, 2 threads): {per_query:.2f} ms.")


# Each part of the shipped selection switched off in turn: `--ablation`.
ABLATIONS = {
    "dexter, no neighbours": {"neighbour_weight": 0.0},
    "dexter, no BM25": {"lexical_weight": 0.0},
    "dexter, no recency": {"recency_weight": 0.0},
    "dexter, no named author": {"author_weight": 0.0},
}


def run_locomo(
    folder: Path, embed: Embed, json_path: Path | None, *, ablation: bool = False
) -> None:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        print(f"\nLoCoMo: skipped — no conversation files in {folder}.")
        return
    start = time.perf_counter()
    conversations = locomo.load_folder(folder, embed)
    loaded = time.perf_counter() - start
    turns = sum(len(c.turns) for c in conversations)
    print(
        f"\n## LoCoMo: {len(conversations)} conversations from {folder} "
        f"({turns:,} turns, prepared in {loaded:.1f} s)\n"
    )
    result = locomo.run(conversations, embed, ABLATIONS if ablation else None)
    locomo.print_tables(result)
    if json_path is not None:
        json_path.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
        print(f"\nWrote {json_path}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="print a grid of settings")
    parser.add_argument(
        "--locomo",
        type=Path,
        nargs="?",
        const=LOCOMO_PATH,
        help=f"only LoCoMo, from this folder of conversation files (default {LOCOMO_PATH})",
    )
    parser.add_argument("--json", type=Path, help="write LoCoMo's figures to this file")
    parser.add_argument(
        "--ablation", action="store_true", help="also run each part of the selection switched off"
    )
    args = parser.parse_args()

    embed, embedder = local_embed()
    if args.locomo is None:
        run_threads(embed, embedder, grid=args.sweep, ablation=args.ablation)
        if args.sweep:
            return
    run_locomo(args.locomo or LOCOMO_PATH, embed, args.json, ablation=args.ablation)


if __name__ == "__main__":
    main()
