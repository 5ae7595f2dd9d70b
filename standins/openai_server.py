"""An OpenAI-compatible server for tests: chat completions (tool calls, streaming) and embeddings.

Each request is routed by the agent step its system prompt names ("Dexter · plan step").
A test scripts the replies of a step with `script(step, Reply(...), ...)`; a step with no
script left is answered by an autopilot that behaves like a competent, terse model: it
resolves a follow-up from the earlier turns the request shows it (and only from those),
plans the calls each company needs, makes them with the tools the request offers, and
answers with the figures, units and periods of the data it was given, or says what the
data lacks. `python -m bench.eval` scores it. Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from standins.background import BackgroundServer

API_KEY = "sk-test-standin"
EMBEDDING_DIM = 256

COMPANIES = {
    "apple": "AAPL",
    "microsoft": "MSFT",
    "nvidia": "NVDA",
    "alphabet": "GOOGL",
    "google": "GOOGL",
    "amazon": "AMZN",
    "tesla": "TSLA",
    "jpmorgan": "JPM",
    "jp morgan": "JPM",
    "meta": "META",
}
TICKERS = set(COMPANIES.values())
NAMES = {ticker: name.title() for name, ticker in reversed(COMPANIES.items())}
NAMES |= {"JPM": "JPMorgan", "NVDA": "Nvidia"}
STEP = re.compile(r"Dexter · (\w+) step")
WORD = re.compile(r"[a-z0-9]+")
FENCE_LINE = re.compile(r"^</?(?:question|data|answer|earlier_turns)>\n?", re.MULTILINE)
# A symbol the asker spells out, "(ACMR)" or "$ACMR", is taken even when unknown.
SPELLED_TICKER = re.compile(r"\(\$?([A-Z]{2,5})\)|\$([A-Z]{2,5})\b")
ISO_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
YEAR = re.compile(r"\b(?:FY\s?|fiscal (?:year )?)?((?:19|20)\d\d)\b", re.IGNORECASE)
SINCE = re.compile(r"\bsince (?:FY\s?|fiscal (?:year )?)?(?:19|20)\d\d\b", re.IGNORECASE)
LAST_YEARS = re.compile(r"\b(?:last|past) (\w+) (?:fiscal )?years\b", re.IGNORECASE)
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
GROWTH = re.compile(r"\b(?:grew|grow|grown|growth|faster|slower)\b", re.IGNORECASE)
TREND = re.compile(
    r"\b(?:trend|since|went from|changed?|evolved?|over the (?:last|past))\b"
    r"|\bfrom (?:FY\s?)?\d{4} to",
    re.IGNORECASE,
)
BOTH = re.compile(r"\b(?:two|both|them|each|these)\b", re.IGNORECASE)
FIRST = re.compile(r"\b(?:first|earlier|originally|go back|back to)\b", re.IGNORECASE)
FIRST_COMPANY = re.compile(r"\bfirst (?:company|one)\b", re.IGNORECASE)
UNSUPPORTED = ("employees", "headcount", "carbon", "emissions", "esg", "customer satisfaction")
INCOME, BALANCE, CASH_FLOW = (
    "get_income_statements",
    "get_balance_sheets",
    "get_cash_flow_statements",
)
TOOL_PATHS = {
    INCOME: "/financials/income-statements/",
    BALANCE: "/financials/balance-sheets/",
    CASH_FLOW: "/financials/cash-flow-statements/",
    "get_financial_metrics": "/financial-metrics/",
    "get_financial_metrics_snapshot": "/financial-metrics/snapshot/",
    "get_price_snapshot": "/prices/snapshot/",
    "get_prices": "/prices/",
    "get_company_news": "/news/",
    "get_filings": "/filings/",
    "get_filing_items": "/filings/items/",
    "get_segmented_revenues": "/financials/segmented-revenues/",
    "get_insider_trades": "/insider-trades/",
    "get_analyst_estimates": "/analyst-estimates/",
}
ALL_ANNUAL_ROWS = 6
ROWS_BY_SHAPE = {"trend": 5, "growth": 2}  # annual rows a question without years needs
CALL = re.compile(r"^Call (\w+)")
GUESSED_TICKER = "AAPL"  # what the autopilot assumes when a question names no company
PERIODIC = {INCOME, BALANCE, CASH_FLOW, "get_financial_metrics", "get_segmented_revenues"}


@dataclass
class Reply:
    """One scripted reply. `tool_calls` args may be a dict or a raw (even broken) string."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any] | str]] | None = None
    status: int = 200
    delay: float = 0.0
    retry_after: float | None = None


@dataclass
class Recorded:
    step: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    replied: float | None = None

    @property
    def seconds(self) -> float:
        """How long the stand-in took to reply (its scripted delay and latency included)."""
        return (self.replied or self.at) - self.at

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def text(self) -> str:
        """Everything the model was shown, as one string."""
        return "\n".join(str(m.get("content") or "") for m in self.messages)


def step_of(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        if message.get("role") == "system":
            found = STEP.search(str(message.get("content") or ""))
            if found:
                return found.group(1)
    return "other"


def hashed_embedding(text: str) -> list[float]:
    """A deterministic bag-of-words vector: similar wording, similar vector."""
    vector = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    for word in WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "little") % EMBEDDING_DIM] += 1.0
    norm = float(np.linalg.norm(vector)) or 1.0
    return (vector / norm).tolist()


@dataclass(frozen=True, slots=True)
class Measure:
    """What a question asks for: where the data lives and how a figure of it reads.

    `denominator` makes it a ratio of two fields of one row; `unit` is usd, percent (a
    fraction in the data), multiple, per_share or text.
    """

    name: str
    words: tuple[str, ...]
    tool: str
    field: str
    denominator: str | None = None
    unit: str = "usd"


MEASURES = (
    Measure("revenue", ("revenue", "revenues", "sales", "top line"), INCOME, "revenue"),
    Measure("net income", ("net income", "net profit", "profit", "earnings"), INCOME, "net_income"),
    Measure("gross profit", ("gross profit",), INCOME, "gross_profit"),
    Measure("operating income", ("operating income",), INCOME, "operating_income"),
    Measure("EPS", ("earnings per share", "eps"), INCOME, "earnings_per_share", unit="per_share"),
    Measure(
        "gross margin", ("gross margin", "margin"), INCOME, "gross_profit", "revenue", "percent"
    ),
    Measure(
        "operating margin", ("operating margin",), INCOME, "operating_income", "revenue", "percent"
    ),
    Measure(
        "net margin", ("net margin", "profit margin"), INCOME, "net_income", "revenue", "percent"
    ),
    Measure("total debt", ("total debt", "debt"), BALANCE, "total_debt"),
    Measure(
        "cash and equivalents", ("cash and equivalents", "cash"), BALANCE, "cash_and_equivalents"
    ),
    Measure(
        "shareholders' equity", ("shareholders' equity", "equity"), BALANCE, "shareholders_equity"
    ),
    Measure("total assets", ("total assets",), BALANCE, "total_assets"),
    Measure(
        "debt-to-equity ratio",
        ("debt-to-equity", "debt to equity", "leverage"),
        BALANCE,
        "total_debt",
        "shareholders_equity",
        "multiple",
    ),
    Measure("free cash flow", ("free cash flow", "fcf"), CASH_FLOW, "free_cash_flow"),
    Measure(
        "operating cash flow",
        ("operating cash flow", "cash from operations"),
        CASH_FLOW,
        "net_cash_flow_from_operations",
    ),
    Measure(
        "capital expenditure", ("capital expenditure", "capex"), CASH_FLOW, "capital_expenditure"
    ),
    Measure(
        "return on equity",
        ("return on equity", "roe"),
        "get_financial_metrics",
        "return_on_equity",
        unit="percent",
    ),
    Measure(
        "market cap",
        ("market cap", "market capitalization", "market value"),
        "get_financial_metrics_snapshot",
        "market_cap",
    ),
    Measure(
        "P/E ratio",
        ("p/e", "price-to-earnings", "price to earnings"),
        "get_financial_metrics_snapshot",
        "price_to_earnings_ratio",
        unit="multiple",
    ),
    Measure(
        "share price",
        ("share price", "stock price", "trading at", "price"),
        "get_price_snapshot",
        "price",
        unit="per_share",
    ),
    Measure(
        "closing price",
        ("closing price", "close", "closed"),
        "get_prices",
        "close",
        unit="per_share",
    ),
    Measure("segment revenue", ("segment", "division"), "get_segmented_revenues", "value"),
    Measure("latest news", ("news", "headline"), "get_company_news", "title", unit="text"),
    Measure("insider trades", ("insider",), "get_insider_trades", "name", unit="text"),
    Measure(
        "revenue estimate",
        ("estimate", "consensus", "analysts expect", "forecast"),
        "get_analyst_estimates",
        "revenue",
    ),
    Measure(
        "latest filing",
        ("10-k", "10-q", "filing", "filed"),
        "get_filings",
        "report_date",
        unit="text",
    ),
    Measure("risk factors", ("risk factor", "risks"), "get_filing_items", "Item-1A", unit="text"),
)
BY_NAME = {measure.name: measure for measure in MEASURES}
# What an answer shows beside its figure, per tool: the rest of the row an analyst reads.
CONTEXT_FIELDS = {
    INCOME: ("revenue", "gross_profit", "operating_income", "net_income", "earnings_per_share"),
    BALANCE: (
        "total_assets",
        "total_liabilities",
        "cash_and_equivalents",
        "total_debt",
        "shareholders_equity",
    ),
    CASH_FLOW: ("net_cash_flow_from_operations", "capital_expenditure", "free_cash_flow"),
    "get_financial_metrics": ("return_on_equity", "return_on_assets", "gross_margin", "net_margin"),
}
OVERVIEW = Measure("overview", (), INCOME, "revenue")
EPS_ESTIMATE = Measure(
    "EPS estimate", (), "get_analyst_estimates", "earnings_per_share", unit="per_share"
)
SEGMENT_REVENUE = BY_NAME["segment revenue"]


def find_tickers(text: str) -> list[str]:
    """Tickers named in `text`, by company name or symbol, in order of appearance."""
    lowered = text.lower()
    found: list[tuple[int, str]] = [
        (m.start(), ticker)
        for name, ticker in COMPANIES.items()
        for m in re.finditer(rf"\b{name}\b", lowered)
    ]
    found += [
        (m.start(), m.group()) for m in re.finditer(r"\b[A-Z]{2,5}\b", text) if m.group() in TICKERS
    ]
    found += [(m.start(), m.group(1) or m.group(2)) for m in SPELLED_TICKER.finditer(text)]
    return list(dict.fromkeys(t for _, t in sorted(found)))


def find_measures(text: str) -> list[Measure]:
    """Measures named in `text`, in order; at one position the longest name wins."""
    lowered = text.lower()
    hits: dict[int, tuple[int, Measure]] = {}
    for measure in MEASURES:
        for word in measure.words:
            for m in re.finditer(rf"(?<![\w-]){re.escape(word)}(?:s|es)?(?![\w-])", lowered):
                if m.start() not in hits or len(word) > hits[m.start()][0]:
                    hits[m.start()] = (len(word), measure)
    ordered = [hits[position][1] for position in sorted(hits)]
    # "free cash flow" also holds "cash": drop a hit inside a longer one
    spans = sorted((p, p + n) for p, (n, _) in hits.items())
    kept = [
        measure
        for (start, stop), measure in zip(spans, ordered, strict=True)
        if not any(s < start < e or (s == start and e > stop) for s, e in spans)
    ]
    return list(dict.fromkeys(kept))


def _measure_of(text: str) -> Measure | None:
    """The measure a question is about: the first named, turned by modifiers ("estimate")."""
    found = find_measures(text)
    if not found:
        return None
    first = found[0]
    tools = {m.tool for m in found}
    if "get_analyst_estimates" in tools:
        return EPS_ESTIMATE if BY_NAME["EPS"] in found else BY_NAME["revenue estimate"]
    if "get_segmented_revenues" in tools:
        return SEGMENT_REVENUE
    if "get_filing_items" in tools:
        return BY_NAME["risk factors"]
    if "get_prices" in tools or (first.tool == "get_price_snapshot" and ISO_DATE.search(text)):
        return BY_NAME["closing price"]
    return first


@dataclass
class Topic:
    """What a conversation is about at one point: companies, measure, periods, shape."""

    tickers: list[str] = field(default_factory=list)
    measure: Measure | None = None
    years: list[int] = field(default_factory=list)
    since: bool = False
    latest: int | None = None
    dates: list[str] = field(default_factory=list)
    shape: str = "figure"
    detail: str = ""

    def resolved(self, question: str) -> str:
        """The question rewritten to stand alone, in words the later steps can read."""
        if not self.tickers:
            return question
        names = " and ".join(f"{NAMES.get(t, t)} ({t})" for t in self.tickers)
        measure = self.measure.name if self.measure else "overview"
        when = ""
        if self.dates:
            when = " " + " to ".join(self.dates)
        elif self.years and self.since:
            when = f" since FY{self.years[0]}"
        elif len(self.years) > 1:
            when = f" from FY{self.years[0]} to FY{self.years[-1]}"
        elif self.years:
            when = f" in FY{self.years[0]}"
        elif self.latest:
            when = f" over the last {self.latest} years"
        shape = {"growth": ", growth", "trend": ", trend"}.get(self.shape, "")
        return f"{measure} of {names}{when}{shape}{self.detail}: {question}"


def _years(text: str) -> list[int]:
    return sorted({int(y) for y in YEAR.findall(ISO_DATE.sub("", text))})


def _shape(text: str) -> str | None:
    if GROWTH.search(text):
        return "growth"
    if TREND.search(text) or LAST_YEARS.search(text):
        return "trend"
    return None


def _detail(text: str) -> str:
    """What a question adds that the measure does not say: filing type, segment words."""
    kinds = re.findall(r"\b10-[KQ]\b", text, re.IGNORECASE)
    return f" ({kinds[0].upper()})" if kinds else ""


class Conversation:
    """The topic of a thread, read turn by turn as a model reads the history it is shown."""

    def __init__(self) -> None:
        self.topic = Topic()
        self.tickers_seen: list[str] = []
        self.measures_seen: list[Measure] = []

    def read_statement(self, text: str) -> None:
        """An earlier answer (its lead line) or a note on an earlier turn."""
        tickers, measure, years = find_tickers(text), _measure_of(text), _years(text)
        if tickers:
            self.topic.tickers = tickers
        if measure:
            self.topic.measure = measure
        if years:
            self.topic.years, self.topic.since = years, False
        self._remember(tickers, measure)

    def ask(self, question: str) -> Topic:
        """The topic of `question`, its references resolved from what was read before."""
        prior = self.topic
        tickers, measure, years = find_tickers(question), _measure_of(question), _years(question)
        if not tickers:
            if BOTH.search(question) and len(self.tickers_seen) >= 2:
                tickers = sorted(self.tickers_seen[-2:], key=self.tickers_seen.index)
            elif FIRST_COMPANY.search(question) and self.tickers_seen:
                tickers = self.tickers_seen[:1]
            else:
                tickers = list(prior.tickers)
        inherited = measure is None or _vague(measure, question, prior)
        if inherited:
            measure = self._meant(measure, question, prior)
        follow_up = not find_tickers(question) or inherited
        shape = _shape(question) or (prior.shape if follow_up else "figure")
        since = bool(SINCE.search(question))
        latest_match = LAST_YEARS.search(question)
        latest = NUMBER_WORDS.get(latest_match.group(1).lower()) if latest_match else None
        if latest_match and latest is None and latest_match.group(1).isdigit():
            latest = int(latest_match.group(1))
        if not years and follow_up and not latest:
            years, since, latest = list(prior.years), prior.since, prior.latest
        topic = Topic(
            tickers=tickers,
            measure=measure,
            years=years,
            since=since,
            latest=latest,
            dates=ISO_DATE.findall(question),
            shape=shape,
            detail=_detail(question) or (prior.detail if follow_up else ""),
        )
        self.topic = topic
        self._remember(tickers, measure)
        return topic

    def _meant(self, named: Measure | None, question: str, prior: Topic) -> Measure | None:
        """The measure a vague question means: "the margin you mentioned first", "and
        Microsoft's 2024 10-K?" after risk factors, or simply the one discussed last."""
        if named is not None and named.tool == "get_filings":
            return prior.measure
        seen = self.measures_seen
        if named is not None:  # a bare "margin"
            seen = [m for m in seen if "margin" in m.name]
            if not seen:
                return named
        if FIRST.search(question) and seen:
            return seen[0]
        if named is None or prior.measure in seen:
            return prior.measure
        return seen[-1]

    def _remember(self, tickers: list[str], measure: Measure | None) -> None:
        for ticker in tickers:
            if ticker in self.tickers_seen:
                self.tickers_seen.remove(ticker)
            self.tickers_seen.append(ticker)
        if measure and measure not in self.measures_seen:
            self.measures_seen.append(measure)


def _vague(measure: Measure, question: str, prior: Topic) -> bool:
    """A bare "margin", or a filing named where the thread was about one of its sections."""
    if measure.name == "gross margin":
        return "gross" not in question.lower()
    return measure.tool == "get_filings" and prior.measure is BY_NAME["risk factors"]


def read_history(messages: list[dict[str, Any]]) -> Conversation:
    """The earlier turns a request shows (between its system prompt and the new question)."""
    conversation = Conversation()
    for message in messages[1:-1]:
        text = str(message.get("content") or "")
        if message.get("role") == "user":
            conversation.ask(FENCE_LINE.sub("", text).strip())
        elif "<earlier_turns>" in text:
            for line in text.splitlines():
                if line.startswith("- "):
                    conversation.read_statement(line[2:])
        else:
            conversation.read_statement(text.strip().splitlines()[0] if text.strip() else "")
    return conversation


def _fenced(text: str, tag: str = "question") -> list[str]:
    return [m.strip() for m in re.findall(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)]


class Autopilot:
    """What the stand-in says when a test scripted nothing for a step.

    It plays a competent, terse model that knows where each figure lives: the understand
    step resolves a follow-up ("and Microsoft?", "which of the two grew faster?") from the
    earlier turns it is shown, and only from those; plan and execute ask the tools for
    exactly the periods needed; the answer states each figure with its unit and period,
    computed from the data it was given, and says so when the data lacks it.
    """

    def reply(self, step: str, body: dict[str, Any]) -> Reply:
        messages = body.get("messages", [])
        last_user = next(
            (str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        handler = getattr(self, f"_{step}", None)
        if handler is None:
            return Reply(content="OK")
        return handler(body, messages, last_user)

    def _understand(self, body: dict, messages: list[dict], request: str) -> Reply:
        question = FENCE_LINE.sub("", request).strip()
        topic = read_history(messages).ask(question)
        stands_alone = Conversation().ask(question) == topic
        reply = {
            "intent": f"research: {question[:80]}",
            "resolved_query": question if stands_alone else topic.resolved(question),
            "tickers": topic.tickers,
            "companies": [],
            "periods": [f"FY{y}" for y in topic.years] + topic.dates,
            "metrics": [topic.measure.name] if topic.measure else [],
        }
        return Reply(content=json.dumps(reply))

    def _plan(self, body: dict, messages: list[dict], request: str) -> Reply:
        question = " ".join(_fenced(request)) or request
        listed = re.search(r"^Tickers: (.+)$", request, re.MULTILINE)
        tickers = listed.group(1).split(", ") if listed else find_tickers(question)
        topic = Conversation().ask(question)
        if any(word in question.lower() for word in UNSUPPORTED):
            tasks = ["Nothing to fetch: no listed tool reports this"]
        else:
            tickers = tickers or [GUESSED_TICKER]
            tasks = [task for ticker in tickers[:4] for task in _tasks(topic, ticker)]
            context = f"Call get_financial_metrics_snapshot for {tickers[0]}"
            if len(tickers) == 1 and context not in tasks:
                tasks.append(context)
        plan = [
            {"id": f"t{n}", "description": d, "tools": CALL.findall(d), "depends_on": []}
            for n, d in enumerate(tasks, 1)
        ]
        return Reply(content=json.dumps({"tasks": plan}))

    def _execute(self, body: dict, messages: list[dict], request: str) -> Reply:
        if any(m.get("role") == "tool" for m in messages):
            return Reply(content="Done.")
        tools = {t["function"]["name"]: t["function"] for t in body.get("tools", [])}
        tasks = re.findall(r"^\d+\. (.+)$", request, re.MULTILINE) or [request]
        calls: list[tuple[str, dict[str, Any] | str]] = []
        for task in tasks:
            named = re.match(r"Call (\w+) for (\S+)(?: with (.+))?$", task)
            if named and named.group(1) in tools:
                calls.append((named.group(1), _arguments(tools[named.group(1)], named)))
                continue
            wanted = (
                "metric" if "metric" in task.lower() else "price" if "price" in task else "income"
            )
            name = next((n for n in tools if wanted in n), next(iter(tools), None))
            if name is not None:
                calls += [(name, _arguments_for(tools[name], t)) for t in find_tickers(task)[:3]]
        return Reply(tool_calls=calls) if calls else Reply(content="No tools fit.")

    def _reflect(self, body: dict, messages: list[dict], request: str) -> Reply:
        return Reply(content=json.dumps({"sufficient": True, "missing": []}))

    def _answer(self, body: dict, messages: list[dict], request: str) -> Reply:
        asked = _fenced(request)
        question = asked[1] if len(asked) > 1 else (asked[0] if asked else request)
        data = request.split("Data gathered:", 1)[-1]
        return Reply(content=write_answer(question, read_blocks(data)))

    def _summary(self, body: dict, messages: list[dict], request: str) -> Reply:
        first = request.strip().splitlines()[0][:160] if request.strip() else "a question"
        return Reply(content=json.dumps({"summary": f"Asked: {first}"}))


def _tasks(topic: Topic, ticker: str) -> list[str]:
    """The calls one company needs, as plan tasks naming the tool and its arguments."""
    measure = topic.measure or OVERVIEW
    if measure is OVERVIEW:
        return [
            f"Call {INCOME} for {ticker} with period=annual, limit=1",
            f"Call get_financial_metrics_snapshot for {ticker}",
        ]
    args: list[str] = []
    if measure.tool == "get_segmented_revenues":
        args += ["period=annual", "limit=6"]  # no period filters: every annual row, newest first
    elif measure.tool in PERIODIC:
        args.append("period=annual")
        args += _period_arguments(topic)
    elif measure.tool == "get_prices":
        dates = topic.dates or ["2024-12-31"]
        args += [f"start_date={dates[0]}", f"end_date={dates[-1]}", "interval=day"]
    elif measure.tool == "get_company_news":
        args.append("limit=3")
    elif measure.tool == "get_insider_trades":
        args.append("limit=5")
    elif measure.tool == "get_filings":
        args += [f"filing_type={topic.detail.strip(' ()') or '10-K'}", "limit=1"]
    elif measure.tool == "get_filing_items":
        args += ["filing_type=10-K", "items=Item-1A"]
        args += [f"year={topic.years[0]}"] if topic.years else []
    elif measure.tool == "get_analyst_estimates":
        args.append("period=annual")
    suffix = f" with {', '.join(args)}" if args else ""
    return [f"Call {measure.tool} for {ticker}{suffix}"]


def _period_arguments(topic: Topic) -> list[str]:
    """The narrowest annual rows: fiscal years fall in the calendar year their period ends."""
    years = topic.years
    if topic.shape == "growth" and len(years) == 1:
        years = [years[0] - 1, years[0]]
    if years and (topic.since or len(years) == 1):
        return [f"report_period_gte={years[0]}-01-01", f"limit={ALL_ANNUAL_ROWS}"]
    if years:
        first, last = years[0], years[-1]
        return [
            f"report_period_gte={first}-01-01",
            f"report_period_lte={last}-12-31",
            f"limit={last - first + 1}",
        ]
    if topic.latest:
        return [f"limit={topic.latest}"]
    return [f"limit={ROWS_BY_SHAPE.get(topic.shape, 1)}"]


def _arguments(function: dict[str, Any], named: re.Match[str]) -> dict[str, Any]:
    """A task's `name=value` arguments, typed as the tool's schema says."""
    properties = function.get("parameters", {}).get("properties", {})
    args: dict[str, Any] = {"ticker": named.group(2)}
    for key, value in re.findall(r"(\w+)=([^,\s]+)", named.group(3) or ""):
        kind = properties.get(key, {}).get("type")
        args[key] = int(value) if kind == "integer" else [value] if kind == "array" else value
    return args


def _arguments_for(function: dict[str, Any], ticker: str) -> dict[str, Any]:
    """Fill a tool's required parameters the way a careful model would."""
    schema = function.get("parameters", {})
    properties = schema.get("properties", {})
    args: dict[str, Any] = {}
    for name in schema.get("required", []):
        spec = properties.get(name, {})
        if name == "ticker":
            args[name] = ticker
        elif "enum" in spec:
            args[name] = spec["enum"][0]
        elif spec.get("type") == "integer":
            args[name] = 4
        elif "date" in name:
            args[name] = "2024-01-02" if "start" in name else "2024-12-31"
        else:
            args[name] = spec.get("default", "")
    if "ticker" in properties:
        args["ticker"] = ticker
    return args


# the answer --------------------------------------------------------------------------------


@dataclass
class Block:
    """One tool result as the answer step reads it: which tool, whose, and its data."""

    tool: str | None
    ticker: str | None
    data: Any = None
    failed: bool = False


def read_blocks(text: str) -> list[Block]:
    """The `## label` sections of the gathered data."""
    text = FENCE_LINE.sub("", text)
    blocks: list[Block] = []
    for label, body in re.findall(
        r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL
    ):
        ticker = label.rsplit("· ", 1)[-1].split()[0] if "· " in label else None
        body = body.strip()
        if not body.startswith("{"):
            blocks.append(Block(None, ticker, failed=True))
            continue
        try:
            envelope = json.loads(body)
        except json.JSONDecodeError:
            continue
        source = str(envelope.get("source") or "")
        path = re.sub(r"^[a-z]+://[^/]+", "", source).split("?")[0]
        tool = next((name for name, p in TOOL_PATHS.items() if p == path), None)
        found = re.search(r"[?&]ticker=([A-Z0-9.\-]+)", source)
        blocks.append(Block(tool, found.group(1) if found else ticker, envelope.get("data")))
    return blocks


def write_answer(question: str, blocks: list[Block]) -> str:
    """A terse answer: a lead sentence with the figures and periods, then the rows."""
    topic = Conversation().ask(question)
    if not blocks:
        if any(word in question.lower() for word in UNSUPPORTED):
            return "The market data I can reach has no figures on that; no listed tool reports it."
        return "I couldn't tell which company you mean, so I fetched no data. Which one is it?"
    tickers = topic.tickers or list(dict.fromkeys(b.ticker for b in blocks if b.ticker))
    measure = topic.measure or OVERVIEW
    leads: list[str] = []
    rows: list[str] = []
    series: dict[str, list[tuple[str, float]]] = {}
    for ticker in tickers:
        mine = [b for b in blocks if b.ticker == ticker]
        who = f"{NAMES.get(ticker, ticker)} ({ticker})"
        if not mine or all(b.failed for b in mine):
            leads.append(f"I couldn't get data for {who}: the data service has none for it.")
            continue
        lead, lines, points = _company_answer(who, measure, topic, mine, question)
        leads.append(lead)
        rows += lines
        if points:
            series[who] = points
    if len(series) == 2 and measure.unit != "text":
        leads.append(_comparison(measure, topic, series))
    head = f"**{', '.join(tickers)}**: here is what the data shows."
    table = "\n".join(rows)
    return f"{head} {' '.join(leads)}" + (f"\n{table}" if table else "")


def _company_answer(
    who: str, measure: Measure, topic: Topic, blocks: list[Block], question: str
) -> tuple[str, list[str], list[tuple[str, float]]]:
    """One company's lead sentence, supporting lines, and its series (period, value)."""
    data = next((b.data for b in blocks if b.tool == measure.tool and not b.failed), None)
    if measure is OVERVIEW:
        return _overview(who, blocks)
    if data is None:
        return (
            f"I couldn't get the {measure.name} of {who}: the data service returned none.",
            [],
            [],
        )
    if measure.unit == "text" or measure.tool in ("get_analyst_estimates",):
        return _listing(who, measure, topic, data), [], []
    if measure.tool == "get_segmented_revenues":
        return _segment(who, topic, data, question)
    if measure.tool in ("get_financial_metrics_snapshot", "get_price_snapshot"):
        value = _value(measure, data)
        when = str(data.get("time") or data.get("report_period") or "")[:10]
        return f"{who} {measure.name} is {_shown(measure, value)} (as of {when}).", [], []
    if measure.tool == "get_prices":
        return _prices(who, measure, data)
    points = sorted(
        (f"FY{str(row['report_period'])[:4]}", _value(measure, row))
        for row in data
        if isinstance(row, dict) and _value(measure, row) is not None
    )
    wanted = [f"FY{y}" for y in topic.years] if topic.years and not topic.since else []
    if topic.shape == "growth" and len(wanted) == 1:
        wanted = [f"FY{topic.years[0] - 1}", wanted[0]]
    missing = [p for p in wanted if p not in dict(points)]
    if missing or not points:
        covered = f"; it has {points[0][0]} to {points[-1][0]}" if points else ""
        return (
            f"The data has no {measure.name} for {who} for {', '.join(missing) or 'that period'}"
            f"{covered}.",
            [],
            [],
        )
    if wanted:
        points = [p for p in points if wanted[0] <= p[0] <= wanted[-1]]
    lines = ["", f"**{who}**, as the data service returned it:", *_table(measure, data)]
    if len(points) == 1 or topic.shape == "figure":
        period, value = points[-1]
        return f"{who} {measure.name} was {_shown(measure, value)} in {period}.", lines, points
    (start, first), (end, last) = points[0], points[-1]
    if len(points) > 2:
        by_year = ", ".join(f"{period} {_shown(measure, value)}" for period, value in points)
        lines.insert(0, f"By year: {by_year}.")
    verb = "grew" if topic.shape == "growth" else "went from"
    lead = (
        f"{who} {measure.name} {verb} {_shown(measure, first)} in {start} to "
        f"{_shown(measure, last)} in {end} ({_change(measure, first, last)})."
    )
    if verb == "grew":
        lead = (
            f"{who} {measure.name} grew {_change(measure, first, last)} from {start} "
            f"({_shown(measure, first)}) to {end} ({_shown(measure, last)})."
        )
    return lead, lines, points


def _table(measure: Measure, rows: list[dict[str, Any]]) -> list[str]:
    """The rows fetched, values verbatim, with the fields an analyst reads beside them."""
    fields = CONTEXT_FIELDS.get(measure.tool, ())
    if not fields or not rows:
        return []
    header = "| period | " + " | ".join(name.replace("_", " ") for name in fields) + " |"
    lines = [header, "|---" * (len(fields) + 1) + "|"]
    for row in sorted(rows, key=lambda r: str(r["report_period"])):
        cells = " | ".join(str(row.get(name, "n/a")) for name in fields)
        lines.append(
            f"| FY{str(row['report_period'])[:4]} (ended {row['report_period']}) | {cells} |"
        )
    return lines


def _overview(who: str, blocks: list[Block]) -> tuple[str, list[str], list[tuple[str, float]]]:
    parts = []
    for block in blocks:
        if block.failed:
            continue
        if block.tool == INCOME and block.data:
            row = block.data[0]
            year = str(row["report_period"])[:4]
            parts.append(f"revenue of {_shown(BY_NAME['revenue'], row['revenue'])} in FY{year}")
        if block.tool == "get_financial_metrics_snapshot" and isinstance(block.data, dict):
            parts.append(
                f"a market cap of {_shown(BY_NAME['market cap'], block.data['market_cap'])}"
            )
    return f"{who} had {' and '.join(parts) or 'no figures in the data'}.", [], []


def _segment(
    who: str, topic: Topic, rows: Any, question: str
) -> tuple[str, list[str], list[tuple[str, float]]]:
    wanted = re.sub(r"[^a-z]", "", question.lower())
    for row in rows:
        year = str(row["report_period"])[:4]
        if topic.years and int(year) not in topic.years:
            continue
        for item in row.get("items", []):
            key = re.sub(r"segment$", "", item["segment"].lower())
            if key and key in wanted:
                value = _shown(BY_NAME["revenue"], item["value"])
                return f"{who} {item['segment']} segment revenue was {value} in FY{year}.", [], []
    return f"The data has no such segment for {who} in that period.", [], []


def _prices(
    who: str, measure: Measure, bars: Any
) -> tuple[str, list[str], list[tuple[str, float]]]:
    if not bars:
        return f"The data has no prices for {who} on those dates.", [], []
    first, last = bars[0], bars[-1]
    day, end_day = str(first["time"])[:10], str(last["time"])[:10]
    if len(bars) == 1:
        return f"{who} closed at {_shown(measure, first['close'])} on {day}.", [], []
    change = _change(BY_NAME["revenue"], first["close"], last["close"])
    return (
        f"{who} went from a close of {_shown(measure, first['close'])} on {day} to "
        f"{_shown(measure, last['close'])} on {end_day} ({change}).",
        [],
        [],
    )


def _listing(who: str, measure: Measure, topic: Topic, data: Any) -> str:
    """Answers that quote a record: news, an insider trade, a filing, an estimate."""
    if measure.tool == "get_company_news":
        item = data[0]
        return (
            f'The latest news on {who} ({item["date"][:10]}): "{item["title"]}" ({item["source"]}).'
        )
    if measure.tool == "get_insider_trades":
        trade = data[0]
        verb = "sold" if trade["transaction_shares"] < 0 else "bought"
        shares, price = abs(trade["transaction_shares"]), trade["transaction_price_per_share"]
        return (
            f"The latest insider trade at {who}: {trade['name']} ({trade['title']}) {verb} "
            f"{shares:,} shares at ${price:,.2f} on {trade['transaction_date']}."
        )
    if measure.tool == "get_filings":
        filing = data[0]
        return (
            f"The latest {filing['filing_type']} of {who} covers the period ending "
            f"{filing['report_date']} (accession {filing['accession_number']})."
        )
    if measure.tool == "get_filing_items":
        item = (data.get("items") or [{}])[0]
        first = str(item.get("text", "")).split(". ")[0].splitlines()[0]
        return (
            f"{item.get('name', 'The section')} in the {data.get('year')} 10-K of {who}: {first}."
        )
    rows = [
        r for r in data if not topic.years or str(r["fiscal_period"])[:4] == str(topic.years[0])
    ]
    if not rows:
        return f"The data has no {measure.name} for {who} for that year."
    row = rows[0]
    value = _shown(measure, row[measure.field])
    what = measure.field.replace("_", " ")
    return f"Analysts expect {who} {what} of {value} for FY{row['fiscal_period'][:4]}."


def _comparison(measure: Measure, topic: Topic, series: dict[str, list[tuple[str, float]]]) -> str:
    (a, first), (b, second) = series.items()
    if topic.shape in ("growth", "trend") and len(first) > 1 and len(second) > 1:
        growth = {who: (s[-1][1] - s[0][1]) / abs(s[0][1]) for who, s in series.items() if s[0][1]}
        faster = max(growth, key=lambda who: growth[who])
        return f"{faster} grew faster."
    higher = a if first[-1][1] >= second[-1][1] else b
    return f"{higher} has the higher {measure.name}."


def _value(measure: Measure, row: Any) -> float | None:
    if not isinstance(row, dict):
        return None
    value = row.get(measure.field)
    if measure.denominator is None:
        return value if isinstance(value, (int, float)) else None
    denominator = row.get(measure.denominator)
    if not isinstance(value, (int, float)) or not denominator:
        return None
    return value / denominator


def _shown(measure: Measure, value: float | None) -> str:
    """A figure with its unit, as an analyst writes it."""
    if value is None:
        return "n/a"
    if measure.unit == "percent":
        return f"{value * 100:.2f}%"
    if measure.unit == "multiple":
        return f"{value:.2f}x"
    if measure.unit == "per_share":
        return f"${value:,.2f}"
    sign, size = ("-" if value < 0 else ""), abs(value)
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if size >= scale:
            return f"{sign}${size / scale:.2f} {word}"
    return f"{sign}${size:,.0f}"


def _change(measure: Measure, first: float, last: float) -> str:
    if measure.unit == "percent":
        return f"{(last - first) * 100:+.2f} percentage points"
    return f"{(last - first) / abs(first) * 100:+.1f}%" if first else "n/a"


class OpenAIStandin:
    """The stand-in's state; its `app` is served by `BackgroundServer`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._recorded: list[Recorded] = []
        self._ids = itertools.count(1)
        self.autopilot = Autopilot()
        self.latency = 0.0
        self.embedding_calls = 0
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self._chat)
        self.app.router.add_post("/v1/embeddings", self._embeddings)
        self.server = BackgroundServer(self.app)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/v1"

    def script(self, step: str, *replies: Reply) -> None:
        """Queue replies for `step` (understand, plan, execute, reflect, answer, summary)."""
        with self._lock:
            self._scripts[step].extend(replies)

    def requests(self, step: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self._recorded if step is None or r.step == step]

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._recorded.clear()
            self.latency = 0.0
            self.embedding_calls = 0

    def _next_reply(self, step: str, body: dict[str, Any]) -> tuple[Reply, Recorded]:
        record = Recorded(step, body)
        with self._lock:
            self._recorded.append(record)
            queue = self._scripts.get(step)
            if queue:
                return queue.popleft(), record
        return self.autopilot.reply(step, body), record

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        reply, record = self._next_reply(step_of(body), body)
        try:
            return await self._reply(request, body, reply)
        finally:
            record.replied = time.monotonic()

    async def _reply(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        await asyncio.sleep(reply.delay + self.latency)
        if reply.status != 200:
            headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after else None
            return _error(reply.status, f"stand-in failure {reply.status}", headers=headers)
        usage = _usage(body, reply)
        completion_id = f"chatcmpl-{next(self._ids)}"
        if body.get("stream"):
            return await self._stream(request, body, reply, usage, completion_id)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if reply.tool_calls:
            message["tool_calls"] = list(_tool_calls(reply))
            finish = "tool_calls"
        return web.json_response(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "standin"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
        )

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        reply: Reply,
        usage: dict[str, int],
        completion_id: str,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "standin"),
        }

        async def send(choices: list[dict[str, Any]], **extra: Any) -> None:
            payload = {**base, "choices": choices, **extra}
            await response.write(f"data: {json.dumps(payload)}\n\n".encode())

        await send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        for piece in re.findall(r"\S+\s*|\s+", reply.content or ""):
            await send([{"index": 0, "delta": {"content": piece}}])
        await send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if (body.get("stream_options") or {}).get("include_usage"):
            await send([], usage=usage)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        with self._lock:
            self.embedding_calls += 1
            self._recorded.append(Recorded("embeddings", body))
        await asyncio.sleep(self.latency)
        data = [
            {"object": "embedding", "index": i, "embedding": hashed_embedding(t)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


def _tool_calls(reply: Reply) -> Iterator[dict[str, Any]]:
    for index, (name, args) in enumerate(reply.tool_calls or []):
        arguments = args if isinstance(args, str) else json.dumps(args)
        yield {
            "id": f"call_{index}_{name}",
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    prompt = len(json.dumps(body.get("messages", []))) // 4
    completion = len(reply.content or "") // 4 + 10 * len(reply.tool_calls or [])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _error(
    status: int, message: str, kind: str = "server_error", headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "code": None}}, status=status, headers=headers
    )


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIStandin]:
    standin = OpenAIStandin()
    standin.server.start()
    yield standin
    standin.server.stop()


@pytest.fixture
def model(openai_server: OpenAIStandin) -> Iterator[OpenAIStandin]:
    """The model stand-in, with scripts and recordings fresh for this test."""
    openai_server.reset()
    yield openai_server
    openai_server.reset()
