"""What a run comes to: per question, per context mode and overall, with tokens and cost.

Costs are estimates from a small table of list prices (USD per million tokens, input
and output), overridable with `--price MODEL=IN,OUT`; the cheap phases (understand,
reflect, summary) are priced at the fast model's rate. A model missing from the table
(a local server, the stand-in) costs nothing.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.eval.runner import THREAD_MODES, TurnRecord

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
}
CHEAP_PHASES = frozenset({"understand", "reflect", "summary"})
PHASES = ("understand", "plan", "execute", "reflect", "answer", "summary")


@dataclass(frozen=True, slots=True)
class Pricing:
    model: str
    fast_model: str
    prices: Mapping[str, tuple[float, float]]

    def cost(self, record: TurnRecord) -> float:
        """Estimated USD of one answer's model calls."""
        total = 0.0
        for phase, (prompt, completion) in record.usage.items():
            model = self.fast_model if phase in CHEAP_PHASES else self.model
            rate_in, rate_out = self.prices.get(model, (0.0, 0.0))
            total += (prompt * rate_in + completion * rate_out) / 1e6
        return total

    @property
    def priced(self) -> bool:
        return self.model in self.prices or self.fast_model in self.prices


@dataclass(frozen=True, slots=True)
class ModeSummary:
    """The threads' turns in one context mode."""

    mode: str
    turns: int
    correct: int
    score: float
    follow_ups: int
    follow_ups_correct: int
    history_tokens: int
    whole_history_tokens: int
    """What the same turns' whole histories cost: each mode's session has answers of its
    own, so with a model that does not answer alike every time, this is the fair base."""

    @property
    def accuracy(self) -> float:
        return self.correct / self.turns if self.turns else 0.0

    @property
    def follow_up_accuracy(self) -> float:
        return self.follow_ups_correct / self.follow_ups if self.follow_ups else 0.0


def mode_summaries(records: Sequence[TurnRecord]) -> dict[str, ModeSummary]:
    by_mode: dict[str, list[TurnRecord]] = defaultdict(list)
    for record in records:
        by_mode[record.mode].append(record)
    summaries = {}
    for mode in ("single", *THREAD_MODES):
        group = by_mode.get(mode, [])
        if not group:
            continue
        later = [r for r in group if r.turn > 1]
        summaries[mode] = ModeSummary(
            mode=mode,
            turns=len(group),
            correct=sum(r.score.correct for r in group),
            score=statistics.fmean(r.score.score for r in group),
            follow_ups=len(later),
            follow_ups_correct=sum(r.score.correct for r in later),
            history_tokens=sum(r.history_tokens for r in group),
            whole_history_tokens=sum(r.full_history_tokens for r in group),
        )
    return summaries


def print_report(records: Sequence[TurnRecord], pricing: Pricing, console: Console) -> None:
    """The per-question table, the context modes side by side, and the totals."""
    console.print(_per_question(records, pricing))
    console.print(_modes(records))
    console.print(_totals(records, pricing))
    judged = [r for r in records if r.judge is not None]
    if judged:
        console.print(_judged(judged))


def write_json(path: Path, records: Sequence[TurnRecord], pricing: Pricing) -> None:
    """The full record: every answer with its checks, tool calls (data included) and cost."""
    summaries = {mode: asdict(s) for mode, s in mode_summaries(records).items()}
    document = {
        "model": pricing.model,
        "fast_model": pricing.fast_model,
        "modes": summaries,
        "answers": [_record_json(r, pricing) for r in records],
    }
    path.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")


def _record_json(record: TurnRecord, pricing: Pricing) -> dict[str, Any]:
    document = asdict(record)
    document["score"] = {
        "score": record.score.score,
        "correct": record.score.correct,
        "checks": [asdict(check) for check in record.score.checks],
        "invented": list(record.score.invented),
    }
    document["cost_usd"] = pricing.cost(record)
    return document


def _per_question(records: Sequence[TurnRecord], pricing: Pricing) -> Table:
    table = Table(title="Per question (threads: one row per context mode)")
    for column in ("item", "mode", "correct", "score", "tokens", "model", "tools", "s", "$"):
        table.add_column(column, justify="left" if column in ("item", "mode") else "right")
    table.add_column("first failed check", overflow="fold", max_width=48)
    grouped: dict[tuple[str, str], list[TurnRecord]] = defaultdict(list)
    for record in records:
        grouped[(record.item, record.mode)].append(record)
    for (item, mode), group in grouped.items():
        failed = next((r.score.failed[0] for r in group if r.score.failed), "")
        prefix = next((f"t{r.turn} " for r in group if r.score.failed), "")
        table.add_row(
            item,
            mode,
            f"{sum(r.score.correct for r in group)}/{len(group)}",
            f"{statistics.fmean(r.score.score for r in group):.2f}",
            f"{sum(r.prompt_tokens + r.completion_tokens for r in group):,}",
            str(sum(r.model_calls for r in group)),
            str(sum(r.tool_calls for r in group)),
            f"{sum(r.seconds for r in group):.2f}",
            f"{sum(pricing.cost(r) for r in group):.4f}",
            prefix + failed,
        )
    return table


def _modes(records: Sequence[TurnRecord]) -> Table:
    summaries = mode_summaries(records)
    table = Table(title="Threads by context mode")
    for column in ("mode", "turns", "correct", "accuracy", "score", "follow-ups correct"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    table.add_column("history tokens sent", justify="right")
    table.add_column("of its whole history", justify="right")
    table.add_column("vs full", justify="right")
    full = summaries.get("full")
    for mode in THREAD_MODES:
        summary = summaries.get(mode)
        if summary is None:
            continue
        share = (
            f"{summary.history_tokens / full.history_tokens:.0%}"
            if full and full.history_tokens
            else "-"
        )
        whole = summary.whole_history_tokens
        table.add_row(
            mode,
            str(summary.turns),
            str(summary.correct),
            f"{summary.accuracy:.1%}",
            f"{summary.score:.3f}",
            f"{summary.follow_ups_correct}/{summary.follow_ups} ({summary.follow_up_accuracy:.0%})",
            f"{summary.history_tokens:,}",
            f"{summary.history_tokens / whole:.0%}" if whole else "-",
            share,
        )
    return table


def _totals(records: Sequence[TurnRecord], pricing: Pricing) -> Table:
    table = Table(title="Overall", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    singles = [r for r in records if r.mode == "single"]
    if singles:
        correct = sum(r.score.correct for r in singles)
        table.add_row(
            "single questions correct",
            f"{correct}/{len(singles)} ({correct / len(singles):.1%}), "
            f"score {statistics.fmean(r.score.score for r in singles):.3f}",
        )
    correct = sum(r.score.correct for r in records)
    table.add_row(
        "all answers correct",
        f"{correct}/{len(records)}, score {statistics.fmean(r.score.score for r in records):.3f}",
    )
    for phase in PHASES:
        prompt = sum(r.usage.get(phase, (0, 0))[0] for r in records)
        completion = sum(r.usage.get(phase, (0, 0))[1] for r in records)
        if prompt or completion:
            table.add_row(f"tokens: {phase} (in / out)", f"{prompt:,} / {completion:,}")
    table.add_row("model calls", f"{sum(r.model_calls for r in records):,}")
    table.add_row("tool calls", f"{sum(r.tool_calls for r in records):,}")
    seconds = sorted(r.seconds for r in records)
    table.add_row(
        "latency per answer p50 / p95 / max",
        f"{_percentile(seconds, 50):.2f} / {_percentile(seconds, 95):.2f} / {seconds[-1]:.2f} s",
    )
    invented = sum(bool(r.score.invented) for r in records)
    table.add_row("answers with an invented figure", str(invented))
    cost = sum(pricing.cost(r) for r in records)
    price = f"${cost:.4f}" if pricing.priced else "$0 (no price for this model; see --price)"
    table.add_row(f"estimated cost ({pricing.model} / {pricing.fast_model})", price)
    return table


def _judged(records: Sequence[TurnRecord]) -> Table:
    table = Table(title="Model judge (apart from the deterministic score)")
    for column in ("mode", "judged", "mean grade (0-2)", "no verdict"):
        table.add_column(column)
    by_mode: dict[str, list[TurnRecord]] = defaultdict(list)
    for record in records:
        by_mode[record.mode].append(record)
    for mode, group in by_mode.items():
        grades = [r.judge["score"] for r in group if r.judge and r.judge.get("score") is not None]
        mean = f"{statistics.fmean(grades):.2f}" if grades else "-"
        table.add_row(mode, str(len(group)), mean, str(len(group) - len(grades)))
    return table


def _percentile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
