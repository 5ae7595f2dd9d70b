"""The series an answer rests on, taken from the data the tools returned, for a chart.

Only figures a tool returned (or a ratio of two of them, for margins) are used, in the
unit the title names; a series needs at least three points to be worth drawing. Which
series: the first, in call order, whose measure the question asks about (revenue, net
income, margins, prices, segments), else the first that can be drawn at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.tools.envelope import ToolResult

MIN_POINTS = 3
MAX_POINTS = 400
BILLION = 1e9


@dataclass(frozen=True, slots=True)
class Series:
    """One measure of one company over periods (or across segments), ready to draw."""

    company: str
    measure: str
    unit: str
    period: str
    kind: Literal["bar", "line"]
    points: tuple[tuple[str, float], ...]

    @property
    def title(self) -> str:
        return f"{self.company} {self.measure} ({self.unit}), {self.period}"

    @property
    def alt_text(self) -> str:
        """What the chart shows, for screen readers: every point, rounded as drawn."""
        shown = "; ".join(f"{label}: {value:,.2f}" for label, value in self.points[:60])
        more = f"; and {len(self.points) - 60} more" if len(self.points) > 60 else ""
        return f"{self.kind.capitalize()} chart of {self.title}. {shown}{more}."


Extractor = Callable[[ToolResult], list[Series]]


def chart_series(results: Iterable[ToolResult], wanted: Sequence[str]) -> Series | None:
    """The series to draw for an answer whose question names the measures `wanted`."""
    found = [
        series
        for result in results
        if result.ok and result.tool in EXTRACTORS
        for series in EXTRACTORS[result.tool](result)
        if len(series.points) >= MIN_POINTS
    ]
    words = " ".join(wanted).lower()
    for series in found:
        if any(len(word) > 3 and word in words for word in series.measure.lower().split()):
            return series
    return found[0] if found else None


def _statements(result: ToolResult) -> list[Series]:
    rows = _rows(result.data, "report_period")
    if not rows:
        return []
    company, period = _company(result, rows), _span(rows, "fiscal_period")
    measures: list[tuple[str, str, Callable[[Mapping[str, Any]], float | None]]] = [
        ("Revenue", "USD billions", lambda r: _scaled(r.get("revenue"), BILLION)),
        ("Net income", "USD billions", lambda r: _scaled(r.get("net_income"), BILLION)),
        ("Gross margin", "%", lambda r: _ratio(r.get("gross_profit"), r.get("revenue"))),
        ("Operating margin", "%", lambda r: _ratio(r.get("operating_income"), r.get("revenue"))),
    ]
    return [
        Series(company, name, unit, period, "bar", _points(rows, "fiscal_period", value))
        for name, unit, value in measures
    ]


def _prices(result: ToolResult) -> list[Series]:
    rows = _rows(result.data, "time")
    if not rows:
        return []
    period = f"{str(rows[0]['time'])[:10]} to {str(rows[-1]['time'])[:10]}"
    points = tuple(
        (str(row["time"])[:10], float(row["close"]))
        for row in rows
        if isinstance(row.get("close"), int | float)
    )
    return [Series(_company(result, rows), "Share price", "USD", period, "line", points)]


def _segments(result: ToolResult) -> list[Series]:
    rows = _rows(result.data, "report_period")
    if not rows:
        return []
    latest = rows[-1]
    items = [i for i in latest.get("items") or [] if isinstance(i, dict)]
    points = tuple(
        (str(item.get("segment") or item.get("key")), float(item["value"]) / BILLION)
        for item in items
        if isinstance(item.get("value"), int | float)
    )
    period = f"{latest.get('period', '')} to {latest['report_period']}".strip()
    company = _company(result, rows)
    return [Series(company, "Revenue by segment", "USD billions", period, "bar", points)]


EXTRACTORS: dict[str, Extractor] = {
    "get_income_statements": _statements,
    "get_prices": _prices,
    "get_segmented_revenues": _segments,
}


def _rows(data: Any, order_by: str) -> list[dict[str, Any]]:
    """The data's records that carry `order_by`, oldest first, at most `MAX_POINTS`."""
    if not isinstance(data, list):
        return []
    rows = [row for row in data if isinstance(row, dict) and row.get(order_by)]
    rows.sort(key=lambda row: str(row[order_by]))
    return rows[-MAX_POINTS:]


def _points(
    rows: Sequence[Mapping[str, Any]],
    label: str,
    value: Callable[[Mapping[str, Any]], float | None],
) -> tuple[tuple[str, float], ...]:
    pairs = ((str(row.get(label) or row.get("report_period")), value(row)) for row in rows)
    return tuple((name, number) for name, number in pairs if number is not None)


def _company(result: ToolResult, rows: Sequence[Mapping[str, Any]]) -> str:
    return str(result.arguments.get("ticker") or rows[0].get("ticker") or "").upper()


def _span(rows: Sequence[Mapping[str, Any]], label: str) -> str:
    first, last = (row.get(label) or row["report_period"] for row in (rows[0], rows[-1]))
    return f"{first} to {last}"


def _scaled(value: Any, unit: float) -> float | None:
    return float(value) / unit if isinstance(value, int | float) else None


def _ratio(part: Any, whole: Any) -> float | None:
    if isinstance(part, int | float) and isinstance(whole, int | float) and whole:
        return 100.0 * float(part) / float(whole)
    return None
