"""Expected figures, computed from market data rather than written down.

A `Ref` points into the market data the way the Financial Datasets API shapes it (a
table, a field, a period or record); a `Figure` is a reference or a figure derived from
two (a ratio, a growth rate, a difference). The data comes from the stand-in's fixtures
(`FixtureData`), so references stay true when the fixtures change, or, on the real API,
from what the tools returned during the run (`RecordedData`): the answer is then checked
against what the agent was actually given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

Unit = Literal["usd", "percent", "points", "multiple", "count", "text"]

# Which tool answers each table (the agent's tool names, `agent.tools.market_data`).
TABLE_TOOLS = {
    "income_statements": "get_income_statements",
    "balance_sheets": "get_balance_sheets",
    "cash_flow_statements": "get_cash_flow_statements",
    "financial_metrics": "get_financial_metrics",
    "financial_metrics_snapshot": "get_financial_metrics_snapshot",
    "price_snapshot": "get_price_snapshot",
    "prices": "get_prices",
    "news": "get_company_news",
    "filings": "get_filings",
    "filing_items": "get_filing_items",
    "segmented_revenues": "get_segmented_revenues",
    "insider_trades": "get_insider_trades",
    "analyst_estimates": "get_analyst_estimates",
}
SNAPSHOTS = {"financial_metrics_snapshot", "price_snapshot"}
# Fields the API gives as fractions (0.4413) that an answer states as percentages.
FRACTION_FIELDS = frozenset(
    {
        "gross_margin",
        "operating_margin",
        "net_margin",
        "return_on_equity",
        "return_on_assets",
        "return_on_invested_capital",
        "revenue_growth",
        "earnings_growth",
        "free_cash_flow_yield",
    }
)
MULTIPLE_FIELDS = frozenset(
    {"price_to_earnings_ratio", "price_to_book_ratio", "price_to_sales_ratio", "peg_ratio"}
)
COUNT_FIELDS = frozenset({"transaction_shares", "outstanding_shares", "weighted_average_shares"})
TEXT_FIELDS = frozenset(
    {"name", "title", "report_date", "filing_type", "accession_number", "transaction_date"}
)
REF = re.compile(
    r"^(?P<ticker>[A-Z][A-Z0-9.]*) (?P<table>\w+)\.(?P<field>[\w-]+)(?: (?P<at>\S+))?$"
)
FISCAL_YEAR = re.compile(r"^FY(\d{4})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INDEX = re.compile(r"^(?:(?P<kind>[\w-]+)#)?#?(?P<index>\d+)$")


@dataclass(frozen=True, slots=True)
class Ref:
    """`AAPL income_statements.revenue FY2023`: one value of the market data."""

    ticker: str
    table: str
    field: str
    at: str | None = None

    @classmethod
    def parse(cls, text: str) -> Ref:
        found = REF.match(text.strip())
        if found is None or found["table"] not in TABLE_TOOLS:
            raise ValueError(f"not a market-data reference: {text!r}")
        return cls(found["ticker"], found["table"], found["field"], found["at"])

    @property
    def tool(self) -> str:
        return TABLE_TOOLS[self.table]

    @property
    def unit(self) -> Unit:
        if self.field in TEXT_FIELDS or self.table == "filing_items":
            return "text"
        if self.field in FRACTION_FIELDS:
            return "percent"
        if self.field in MULTIPLE_FIELDS:
            return "multiple"
        if self.field in COUNT_FIELDS:
            return "count"
        return "usd"

    @property
    def period(self) -> str | None:
        """How the answer must name the period: the fiscal year or the date."""
        if self.at is None:
            return None
        year = FISCAL_YEAR.match(self.at)
        if year:
            return year.group(1)
        return self.at if DATE.match(self.at) else None

    def __str__(self) -> str:
        return f"{self.ticker} {self.table}.{self.field}" + (f" {self.at}" if self.at else "")


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure an answer must state: a reference, or `kind` of two (ratio, growth…)."""

    kind: Literal["value", "ratio", "growth", "difference"]
    refs: tuple[Ref, ...]
    unit: Unit

    def __str__(self) -> str:
        if self.kind == "value":
            return str(self.refs[0])
        return f"{self.kind}({', '.join(str(ref) for ref in self.refs)})"


def parse_figure(entry: str | Mapping[str, Any]) -> Figure:
    """A figure of the question set: a reference string or {ratio|growth|difference: [a, b]}."""
    if isinstance(entry, str):
        ref = Ref.parse(entry)
        return Figure("value", (ref,), ref.unit)
    for kind in ("ratio", "growth", "difference"):
        if kind in entry:
            first, second = (Ref.parse(text) for text in entry[kind])
            default: Unit = "usd" if kind == "difference" else "percent"
            return Figure(kind, (first, second), entry.get("unit", default))
    raise ValueError(f"not a figure: {entry!r}")


class MarketData(Protocol):
    """Rows of one table for one company, as the API returns them; None if unknown."""

    def table(self, ticker: str, table: str) -> Any: ...


class FixtureData:
    """The market-data stand-in's fixtures (one JSON file per company)."""

    def __init__(self, folder: Path) -> None:
        self._companies = {
            path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("*.json"))
        }

    def table(self, ticker: str, table: str) -> Any:
        company = self._companies.get(ticker)
        return None if company is None else company.get(table)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call of a run as the harness recorded it: what the agent was given."""

    tool: str
    arguments: dict[str, Any]
    ok: bool
    data: Any
    source_url: str | None
    error: str | None

    @property
    def ticker(self) -> str | None:
        ticker = self.arguments.get("ticker")
        return ticker if isinstance(ticker, str) else None


class RecordedData:
    """What the tools returned during one run, looked up like the fixtures."""

    def __init__(self, calls: Iterable[ToolCall]) -> None:
        self._calls = [call for call in calls if call.ok]

    def table(self, ticker: str, table: str) -> Any:
        tool = TABLE_TOOLS[table]
        returned = [c.data for c in self._calls if c.tool == tool and c.ticker == ticker]
        if not returned:
            return None
        if table in SNAPSHOTS:
            return returned[-1]
        rows: list[Any] = []
        for data in returned:
            for row in data if isinstance(data, list) else [data]:
                if row not in rows:
                    rows.append(row)
        return rows


def value_of(ref: Ref, data: MarketData) -> float | str | None:
    """The value `ref` points at, or None when the data holds no such row or field."""
    rows = data.table(ref.ticker, ref.table)
    if rows is None:
        return None
    if ref.table in SNAPSHOTS:
        return rows.get(ref.field) if isinstance(rows, dict) else None
    if ref.table == "filing_items":
        return _filing_item(rows, ref)
    row = _row(rows, ref)
    if row is None:
        return None
    if ref.table == "segmented_revenues":
        return next(
            (item["value"] for item in row.get("items", []) if item.get("segment") == ref.field),
            None,
        )
    value = row.get(ref.field)
    return value if isinstance(value, (int, float, str)) else None


def expected(figure: Figure, data: MarketData) -> float | None:
    """The figure as an answer states it (percentages as 44.13, not 0.4413), or None."""
    values = [value_of(ref, data) for ref in figure.refs]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    if figure.kind == "value":
        return numbers[0] * 100 if figure.unit == "percent" else numbers[0]
    first, second = numbers
    if figure.kind == "ratio":
        if second == 0:
            return None
        return first / second * (100 if figure.unit == "percent" else 1)
    if figure.kind == "growth":
        return (second - first) / abs(first) * 100 if first else None
    return first - second


def expected_text(ref: Ref, data: MarketData) -> str | None:
    value = value_of(ref, data)
    return value if isinstance(value, str) else None


def _row(rows: Sequence[Any], ref: Ref) -> dict[str, Any] | None:
    """The row `ref.at` selects: a fiscal year's annual row, a day's bar, or the nth record."""
    at = ref.at or "#0"
    year = FISCAL_YEAR.match(at)
    if year:
        key = "fiscal_period" if ref.table == "analyst_estimates" else "report_period"
        annual = [r for r in rows if r.get("period") == "annual"]
        return next((r for r in annual if str(r.get(key, ""))[:4] == year.group(1)), None)
    if DATE.match(at):
        return next((r for r in rows if str(r.get("time", ""))[:10] == at), None)
    index = INDEX.match(at)
    if index is None:
        raise ValueError(f"cannot select a row with {at!r} in {ref}")
    kind = index.group("kind")
    chosen = [r for r in rows if kind is None or r.get("filing_type") == kind]
    position = int(index.group("index"))
    return chosen[position] if position < len(chosen) else None


def _filing_item(documents: Sequence[Any], ref: Ref) -> str | None:
    """`10-K/2023/Item-1A`: a field of that section of that filing."""
    kind, year, number = (ref.at or "").split("/")
    for document in documents:
        if document.get("filing_type") == kind and str(document.get("year")) == year:
            for item in document.get("items", []):
                if item.get("number") == number:
                    value = item.get(ref.field)
                    return value if isinstance(value, str) else None
    return None
