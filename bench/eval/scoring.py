"""Deterministic scoring: what an answer must state, checked without a model.

An answer is checked for the figures it must state (within a tolerance, in the right
unit), the companies and periods it must name, the sources it must cite (those of the
tool calls the figures come from, and none the agent did not make), and for invented
figures: every number it states must be one a tool returned, or follow from two of them
(a ratio, a growth rate, a difference) or from two figures it already justified. A
"not available" question wants the answer to say so, with no invented figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from bench.eval.questions import Expectation
from bench.eval.references import (
    DATE,
    Figure,
    MarketData,
    ToolCall,
    expected,
    expected_text,
)

RELATIVE_TOLERANCE = 0.005
SCALES = {"trillion": 1e12, "tn": 1e12, "T": 1e12, "billion": 1e9, "bn": 1e9, "B": 1e9}
SCALES |= {"million": 1e6, "M": 1e6, "thousand": 1e3, "K": 1e3}
FIGURE = re.compile(
    r"""
    (?<![\w.,])
    (?P<sign>[-−+])?
    (?P<currency>\$|US\$|USD\s?)?
    (?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)
    (?:\s?(?P<scale>(?i:trillion|billion|million|thousand|tn|bn)|[TBMK])\b)?
    (?:\s?(?P<unit>%|(?i:percentage\spoints?|percent|points?|pp)\b|x\b|(?i:times)\b))?
    """,
    re.VERBOSE,
)
# Numbers that name things rather than state figures: dates, filings, periods, sections.
NOT_FIGURES = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?\b|\b\d{10}-\d{2}-\d{6}\b|\b(?:10-[KQ]|8-K|Form \d)\b"
    r"|\b(?:FY|Q[1-4]\s?|H[12]\s?)'?\d{2,4}\b|\bItem[- ]\d+[A-C]?\b|\bPart[- ]\d+\b"
    r"|^\s*\d+\.\s",
    re.MULTILINE | re.IGNORECASE,
)
UNAVAILABLE = re.compile(
    r"\b(?:no data|not available|unavailable|couldn't|could not|can't|cannot|has no|have no"
    r"|doesn't have|does not have|don't have|do not have|no figures|not in the data"
    r"|no listed tool|not covered)\b",
    re.IGNORECASE,
)
COMPATIBLE = {
    "usd": {"usd"},
    "percent": {"percent"},
    "points": {"points", "percent"},
    "multiple": {"multiple", "plain"},
    "count": {"plain"},
}


@dataclass(frozen=True, slots=True)
class Stated:
    """A number an answer states: its value as written (44.13 for 44.13%), unit, slack."""

    text: str
    value: float
    unit: str
    slack: float

    def matches(self, value: float) -> bool:
        return abs(abs(self.value) - abs(value)) <= max(self.slack, RELATIVE_TOLERANCE * abs(value))


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TurnScore:
    """The checks of one answer; `score` is the share passed, `correct` all of them."""

    checks: tuple[Check, ...]
    invented: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        return sum(c.passed for c in self.checks) / len(self.checks) if self.checks else 0.0

    @property
    def correct(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [
            f"{c.name}: {c.detail}" if c.detail else c.name for c in self.checks if not c.passed
        ]


@dataclass(frozen=True, slots=True)
class Answered:
    """What scoring needs of one run: the text, the sources cited and the calls made."""

    answer: str
    source_urls: tuple[str, ...]
    calls: tuple[ToolCall, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Scorer:
    """Scores answers against references from `data` (fixtures, or what tools returned)."""

    data: MarketData | None
    names: Mapping[str, str] = field(default_factory=dict)

    def score(self, expect: Expectation, answered: Answered, data: MarketData) -> TurnScore:
        """`data` is what references are computed from for this answer."""
        reference = self.data or data
        stated = list(stated_figures(answered.answer))
        invented = invented_figures(stated, answered.calls)
        checks: list[Check] = [_answered(answered)]
        if expect.unavailable:
            checks.append(
                Check(
                    "says unavailable", bool(UNAVAILABLE.search(answered.answer)), "no such words"
                )
            )
        checks += [_figure_check(figure, stated, reference) for figure in expect.figures]
        for ref in expect.texts:
            text = expected_text(ref, reference)
            found = text is not None and _normal(text) in _normal(answered.answer)
            checks.append(Check(f"text {ref}", found, "no reference" if text is None else text))
        checks += self._named(expect, answered.answer)
        checks.append(_sources(expect, answered))
        checks.append(
            Check("no invented figures", not invented, ", ".join(f.text for f in invented))
        )
        return TurnScore(tuple(checks), tuple(f.text for f in invented))

    def _named(self, expect: Expectation, answer: str) -> list[Check]:
        tickers = dict.fromkeys(ref.ticker for ref in expect.refs)
        checks = []
        for ticker in tickers:
            names = [ticker, *([self.names[ticker]] if ticker in self.names else [])]
            found = any(re.search(rf"\b{re.escape(n)}\b", answer, re.IGNORECASE) for n in names)
            checks.append(Check(f"names {ticker}", found))
        for period in dict.fromkeys(ref.period for ref in expect.refs if ref.period):
            checks.append(Check(f"period {period}", _names_period(period, answer)))
        return checks


def stated_figures(answer: str) -> Iterator[Stated]:
    """The numbers an answer states as figures; years, dates and small counts are left out."""
    text = NOT_FIGURES.sub(" ", answer)
    for found in FIGURE.finditer(text):
        number = found["number"]
        value = float(number.replace(",", ""))
        decimals = len(number.split(".")[1]) if "." in number else 0
        scale = SCALES.get(found["scale"] or "", SCALES.get((found["scale"] or "").lower(), 1.0))
        unit = _unit(found["currency"], found["unit"])
        plain_integer = unit == "plain" and scale == 1.0 and decimals == 0 and "," not in number
        if plain_integer and (value < 100 or 1900 <= value <= 2100):
            continue
        sign = -1.0 if found["sign"] in ("-", "−") else 1.0
        slack = 0.5 * 10**-decimals * scale
        yield Stated(found.group().strip(), sign * value * scale, unit, slack)


def invented_figures(stated: Sequence[Stated], calls: Iterable[ToolCall]) -> list[Stated]:
    """Stated figures no tool returned, directly or as a ratio, growth or difference of two
    returned numbers of one record or one field, or of two figures the answer justified."""
    groups, loose = _returned_numbers(calls)
    direct = np.concatenate([*groups, loose]) if groups or len(loose) else np.empty(0)
    grounded: list[float] = []
    pending: list[Stated] = []
    for figure in stated:
        if _direct(figure, direct):
            grounded.append(figure.value)
        else:
            pending.append(figure)
    invented = []
    for figure in pending:
        if any(_derived(figure, g) for g in groups) or _derived(figure, np.array(grounded)):
            grounded.append(figure.value)
        else:
            invented.append(figure)
    return invented


def _direct(figure: Stated, numbers: np.ndarray) -> bool:
    if not len(numbers):
        return False
    candidates = [numbers]
    if figure.unit in ("percent", "points"):
        candidates.append(numbers * 100)
    return any(bool(np.any(_close(figure, c))) for c in candidates)


def _derived(figure: Stated, group: np.ndarray) -> bool:
    """`figure` is x/y, x/y in percent, (x-y)/y in percent, x-y, or (x-y) in points."""
    if len(group) < 2:
        return False
    x, y = group[:, None], group[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(y != 0, x / y, np.nan)
        derived = [ratio, ratio * 100, (ratio - 1) * 100, x - y, (x - y) * 100]
    return any(bool(np.any(_close(figure, d))) for d in derived)


def _close(figure: Stated, values: np.ndarray) -> np.ndarray:
    tolerance = np.maximum(figure.slack, RELATIVE_TOLERANCE * np.abs(values))
    with np.errstate(invalid="ignore"):
        return np.abs(np.abs(values) - abs(figure.value)) <= tolerance


def _returned_numbers(calls: Iterable[ToolCall]) -> tuple[list[np.ndarray], np.ndarray]:
    """Numbers the tools returned: grouped by record and by field (where derivations may
    combine two), and loose ones (figures quoted in texts such as news titles)."""
    groups: list[list[float]] = []
    loose: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            groups.append([v for v in node.values() if _is_number(v)])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            rows = [row for row in node if isinstance(row, dict)]
            for key in {k for row in rows for k in row}:
                column = [row[key] for row in rows if _is_number(row.get(key))]
                if len(column) > 1:
                    groups.append(column)
            for child in node:
                walk(child)
        elif isinstance(node, str) and any(ch.isdigit() for ch in node):
            loose.extend(figure.value for figure in stated_figures(node))

    for call in calls:
        if call.ok:
            walk(call.data)
    return [np.array(g, dtype=float) for g in groups if g], np.array(loose, dtype=float)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unit(currency: str | None, unit: str | None) -> str:
    if currency:
        return "usd"
    if not unit:
        return "plain"
    lowered = unit.lower()
    if lowered in ("%", "percent"):
        return "percent"
    if lowered in ("x", "times"):
        return "multiple"
    return "points"


def _answered(answered: Answered) -> Check:
    if answered.error:
        return Check("answered", False, answered.error)
    empty = not answered.answer.strip()
    return Check("answered", not empty, "empty answer" if empty else "")


def _figure_check(figure: Figure, stated: Sequence[Stated], data: MarketData) -> Check:
    value = expected(figure, data)
    if value is None:
        return Check(f"figure {figure}", False, "no reference value in the data")
    units = COMPATIBLE.get(figure.unit, {figure.unit})
    found = any(s.unit in units and s.matches(value) for s in stated)
    return Check(f"figure {figure}", found, f"expected {value:,.4g} ({figure.unit})")


def _sources(expect: Expectation, answered: Answered) -> Check:
    """Cited sources are those of the calls the figures come from, and only real calls."""
    cited = set(answered.source_urls)
    made = {call.source_url for call in answered.calls if call.ok and call.source_url}
    phantom = cited - made
    missing = [
        f"{tool} {ticker}"
        for tool, ticker in dict.fromkeys((ref.tool, ref.ticker) for ref in expect.refs)
        if not any(
            c.ok and c.tool == tool and c.ticker == ticker and c.source_url in cited
            for c in answered.calls
        )
    ]
    detail = "; ".join(
        ([f"not cited: {', '.join(missing)}"] if missing else [])
        + ([f"cited but never called: {len(phantom)}"] if phantom else [])
    )
    return Check("sources", not missing and not phantom, detail)


def _names_period(period: str, answer: str) -> bool:
    if not DATE.match(period):
        return re.search(rf"(?<!\d){period}(?!\d)", answer) is not None
    day = date.fromisoformat(period)
    spellings = [period, f"{day:%B} {day.day}, {day.year}", f"{day:%b} {day.day}, {day.year}"]
    spellings.append(f"{day.day} {day:%B} {day.year}")
    return any(s.lower() in answer.lower() for s in spellings)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()
