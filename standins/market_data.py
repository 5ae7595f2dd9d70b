"""A stand-in for the Financial Datasets API (api.financialdatasets.ai), served over real HTTP.

It answers the paths Dexter's tools call with the real API's response shapes, from the
fixtures in `market_data/` (seven companies, fiscal 2019-2024; see `market_data/generate.py`
for what is real and what is synthetic). Like the real API it wants the key in `x-api-key`
(401 otherwise), answers 404 for a ticker it has no data for and 400 for a malformed query.

A test can make a path misbehave (`fail`) and read back every request (`requests`, `count`).
Use the fixtures at the bottom: `market_data_server` gives a fresh, reset server per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self

import pytest
from aiohttp import web

from standins.background import BackgroundServer
from standins.trailing import trailing_row

API_KEY = "fd-test-key"
FIXTURES = Path(__file__).with_name("market_data")
GATE_TIMEOUT = 10.0
STATEMENTS = ("income_statements", "balance_sheets", "cash_flow_statements")
DATE_FILTER_SUFFIXES = ("", "_gt", "_gte", "_lt", "_lte")
INTERVALS = ("day", "week", "month", "year")

Row = dict[str, Any]


class BadRequest(Exception):
    """The query is malformed; the stand-in answers 400 with this message."""


class NotFound(Exception):
    """Nothing matches; the stand-in answers 404 with this message."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in saw it, recorded before auth or failure handling."""

    method: str
    path: str
    query: dict[str, list[str]]
    api_key: str | None

    def param(self, name: str) -> str | None:
        """The first value of query parameter `name`, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Failure:
    """How requests under `prefix` misbehave: wait `delay` s, then answer `status` (if set)."""

    prefix: str
    status: int | None
    delay: float
    remaining: int | None
    body: str | None


def normalise(path: str) -> str:
    """`/prices` and `/prices/` are the same endpoint, as on the real API."""
    return path if path.endswith("/") else f"{path}/"


class MarketDataServer:
    """The stand-in's state and routes; `start()` serves it on a free loopback port."""

    def __init__(self, api_key: str = API_KEY, fixtures: Path = FIXTURES) -> None:
        self.api_key = api_key
        self.companies: dict[str, dict[str, Any]] = {
            path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(fixtures.glob("*.json"))
        }
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[Failure] = []
        self._gates: dict[str, int] = {}
        self._arrived: dict[str, int] = {}
        self._opened: dict[str, asyncio.Event] = {}
        self._in_flight = 0
        self.most_in_flight = 0
        """The most requests this server was answering at one moment."""
        self._routes: dict[str, Callable[[web.Request], Row]] = {
            "/financials/": self._all_statements,
            "/financials/income-statements/": self._statement("income_statements"),
            "/financials/balance-sheets/": self._statement("balance_sheets"),
            "/financials/cash-flow-statements/": self._statement("cash_flow_statements"),
            "/financials/segmented-revenues/": self._segmented_revenues,
            "/financial-metrics/": self._financial_metrics,
            "/financial-metrics/snapshot/": self._metrics_snapshot,
            "/prices/": self._prices,
            "/prices/snapshot/": self._price_snapshot,
            "/news/": self._news,
            "/filings/": self._filings,
            "/filings/items/": self._filing_items,
            "/insider-trades/": self._insider_trades,
            "/analyst-estimates/": self._analyst_estimates,
        }
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self.server = BackgroundServer(app)

    # control ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give `FinancialDatasetsClient`, like `https://api.financialdatasets.ai`."""
        return self.server.base_url

    @property
    def tickers(self) -> list[str]:
        return list(self.companies)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests to exactly this endpoint (trailing slash optional)."""
        wanted = normalise(path)
        return [r for r in self.requests if r.path == wanted]

    def count(self, path: str) -> int:
        return len(self.requests_to(path))

    def fail(
        self,
        path_prefix: str,
        *,
        status: int | None = 500,
        delay: float = 0.0,
        times: int | None = None,
        body: str | None = None,
    ) -> None:
        """Make requests whose path starts with `path_prefix` misbehave.

        Each waits `delay` seconds, then gets `status` with a JSON error body (or `body`
        verbatim, e.g. `status=200, body="<html>"` for a response that is not JSON).
        `status=None` with a delay only slows the request down. `times` bounds how many
        requests are affected; None means until `reset()`.
        """
        with self._lock:
            self._failures.append(Failure(path_prefix, status, delay, times, body))

    def gate(self, path_prefix: str, count: int) -> None:
        """Hold requests whose path starts with `path_prefix` until `count` of them have
        arrived (or `GATE_TIMEOUT` passed): calls made one after another wait that long,
        calls made together go through at once. Shows concurrency without timing it."""
        with self._lock:
            self._gates[path_prefix] = count
            self._arrived[path_prefix] = 0
            self._opened.pop(path_prefix, None)

    def reset(self) -> None:
        """Forget recorded requests, injected failures and gates."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._gates.clear()
            self._arrived.clear()
            self._opened.clear()
            self.most_in_flight = 0

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # request handling -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            await self._pass_gate(normalise(request.path))
            return await self._answer(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _pass_gate(self, path: str) -> None:
        prefix = next((p for p in self._gates if path.startswith(p)), None)
        if prefix is None:
            return
        with self._lock:
            self._arrived[prefix] += 1
            opened = self._opened.setdefault(prefix, asyncio.Event())
            if self._arrived[prefix] >= self._gates[prefix]:
                opened.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(opened.wait(), GATE_TIMEOUT)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        path = normalise(request.path)
        query = {key: request.query.getall(key) for key in request.query}
        recorded = RecordedRequest(request.method, path, query, request.headers.get("x-api-key"))
        with self._lock:
            self._requests.append(recorded)
            failure = self._take_failure(path)
        if failure is not None:
            await asyncio.sleep(failure.delay)
            if failure.status is not None:
                if failure.body is not None:
                    return web.Response(
                        status=failure.status, text=failure.body, content_type="text/html"
                    )
                return _error(failure.status, f"injected failure for {failure.prefix}")
        if recorded.api_key != self.api_key:
            return _error(401, "Invalid API key. Please provide a valid key in X-API-KEY.")
        route = self._routes.get(path)
        if route is None:
            return _error(404, f"No endpoint at {path}")
        try:
            return web.json_response(route(request))
        except BadRequest as exc:
            return _error(400, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))

    def _take_failure(self, path: str) -> Failure | None:
        for failure in self._failures:
            if path.startswith(failure.prefix):
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                return failure
        return None

    def _company(self, request: web.Request) -> dict[str, Any]:
        ticker = request.query.get("ticker")
        if not ticker:
            raise BadRequest("ticker is required")
        company = self.companies.get(ticker)
        if company is None:
            raise NotFound(f"No data found for ticker {ticker}")
        return company

    # endpoints --------------------------------------------------------------------------

    def _statement(self, name: str) -> Callable[[web.Request], Row]:
        def handler(request: web.Request) -> Row:
            return {name: self._statement_rows(request, name)}

        return handler

    def _statement_rows(self, request: web.Request, name: str) -> list[Row]:
        company = self._company(request)
        period = _choice(request, "period", ("annual", "quarterly", "ttm"))
        if period == "ttm":
            rows = _trailing(company[name], keep_balance=name == "balance_sheets")
        else:
            rows = [r for r in company[name] if r["period"] == period]
        return _limited(request, _report_period_filtered(request, rows), default=4)

    def _all_statements(self, request: web.Request) -> Row:
        return {"financials": {name: self._statement_rows(request, name) for name in STATEMENTS}}

    def _financial_metrics(self, request: web.Request) -> Row:
        company = self._company(request)
        period = _choice(request, "period", ("annual", "quarterly", "ttm"), default="ttm")
        rows = [r for r in company["financial_metrics"] if r["period"] == period]
        return {
            "financial_metrics": _limited(
                request, _report_period_filtered(request, rows), default=4
            )
        }

    def _metrics_snapshot(self, request: web.Request) -> Row:
        return {"snapshot": self._company(request)["financial_metrics_snapshot"]}

    def _price_snapshot(self, request: web.Request) -> Row:
        return {"snapshot": self._company(request)["price_snapshot"]}

    def _prices(self, request: web.Request) -> Row:
        company = self._company(request)
        interval = _choice(request, "interval", (*INTERVALS, "minute", "second"))
        if interval not in INTERVALS:
            raise BadRequest("this stand-in serves day, week, month and year bars only")
        multiplier = _integer(request, "interval_multiplier", default=1) or 1
        start = _date(request, "start_date", required=True)
        end = _date(request, "end_date", required=True)
        if start is None or end is None or start > end:
            raise BadRequest("start_date must be on or before end_date")
        bars = [
            b for b in company["prices"] if start.isoformat() <= b["time"][:10] <= end.isoformat()
        ]
        bars = _aggregate(bars, interval, multiplier)
        limit = _integer(request, "limit", default=5000)
        return {"ticker": company["company"]["ticker"], "prices": bars[:limit]}

    def _news(self, request: web.Request) -> Row:
        company = self._company(request)
        start = _date(request, "start_date")
        end = _date(request, "end_date")
        rows = [
            r
            for r in company["news"]
            if (start is None or r["date"][:10] >= start.isoformat())
            and (end is None or r["date"][:10] <= end.isoformat())
        ]
        return {"news": _limited(request, rows, default=10)}

    def _filings(self, request: web.Request) -> Row:
        company = self._company(request)
        kinds = request.query.getall("filing_type", [])
        rows = [r for r in company["filings"] if not kinds or r["filing_type"] in kinds]
        return {"filings": _limited(request, rows, default=100)}

    def _filing_items(self, request: web.Request) -> Row:
        company = self._company(request)
        accession = request.query.get("accession_number")
        kind = request.query.get("filing_type")
        year = _integer(request, "year", default=None)
        quarter = _integer(request, "quarter", default=None)
        if accession is None and (kind is None or year is None):
            raise BadRequest("filing_type and year (or accession_number) are required")
        for document in company["filing_items"]:
            if accession is not None:
                matches = document["accession_number"] == accession
            else:
                matches = (
                    document["filing_type"] == kind
                    and document["year"] == year
                    and (quarter is None or document["quarter"] == quarter)
                )
            if matches:
                wanted = request.query.getall("item", [])
                items = [i for i in document["items"] if not wanted or i["number"] in wanted]
                return {**document, "items": items}
        raise NotFound("No filing items found for these parameters")

    def _segmented_revenues(self, request: web.Request) -> Row:
        company = self._company(request)
        period = _choice(request, "period", ("annual", "quarterly"))
        rows = [r for r in company["segmented_revenues"] if r["period"] == period]
        return {
            "segmented_revenues": _limited(
                request, _report_period_filtered(request, rows), default=4
            )
        }

    def _insider_trades(self, request: web.Request) -> Row:
        company = self._company(request)
        rows = _date_filtered(request, company["insider_trades"], "filing_date")
        return {"insider_trades": _limited(request, rows, default=100)}

    def _analyst_estimates(self, request: web.Request) -> Row:
        company = self._company(request)
        period = _choice(request, "period", ("annual", "quarterly"), default="annual")
        return {
            "analyst_estimates": [r for r in company["analyst_estimates"] if r["period"] == period]
        }


# query helpers ---------------------------------------------------------------------------


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": HTTPStatus(status).phrase, "message": message}, status=status
    )


def _choice(
    request: web.Request, name: str, allowed: tuple[str, ...], *, default: str | None = None
) -> str:
    """The value of `name`, one of `allowed`; without a default the parameter is required."""
    value = request.query.get(name, default)
    if value is None:
        raise BadRequest(f"{name} is required")
    if value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}")
    return value


def _integer(request: web.Request, name: str, *, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < 0:
        raise BadRequest(f"{name} must not be negative")
    return value


def _date(request: web.Request, name: str, *, required: bool = False) -> date | None:
    raw = request.query.get(name)
    if raw is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2024-01-31") from None


def _limited(request: web.Request, rows: list[Row], *, default: int) -> list[Row]:
    limit = _integer(request, "limit", default=default)
    if limit == 0:
        raise BadRequest("limit must be at least 1")
    return rows[:limit]


def _date_filtered(request: web.Request, rows: list[Row], field: str) -> list[Row]:
    """Rows whose `field` passes the `<field>`, `_gt`, `_gte`, `_lt`, `_lte` filters."""
    checks = {
        "": lambda value, bound: value == bound,
        "_gt": lambda value, bound: value > bound,
        "_gte": lambda value, bound: value >= bound,
        "_lt": lambda value, bound: value < bound,
        "_lte": lambda value, bound: value <= bound,
    }
    for suffix in DATE_FILTER_SUFFIXES:
        bound = _date(request, f"{field}{suffix}")
        if bound is not None:
            rows = [r for r in rows if checks[suffix](r[field][:10], bound.isoformat())]
    return rows


def _report_period_filtered(request: web.Request, rows: list[Row]) -> list[Row]:
    return _date_filtered(request, rows, "report_period")


def _trailing(rows: list[Row], *, keep_balance: bool) -> list[Row]:
    """TTM rows from quarterly ones, newest first (see `trailing_row`)."""
    quarters = sorted(
        (r for r in rows if r["period"] == "quarterly"), key=lambda r: r["report_period"]
    )
    return [
        trailing_row(quarters[end - 3 : end + 1], point_in_time=keep_balance)
        for end in range(len(quarters) - 1, 2, -1)
    ]


def _aggregate(bars: list[Row], interval: str, multiplier: int) -> list[Row]:
    """Daily bars merged into bars of `multiplier` x `interval`: first open, last close."""
    if interval == "day" and multiplier <= 1:
        return bars

    def bucket(bar: Row) -> tuple[int, ...]:
        day = datetime.fromisoformat(bar["time"].replace("Z", "+00:00")).date()
        if interval == "day":
            return (day.toordinal() // multiplier,)
        if interval == "week":
            year, week, _ = day.isocalendar()
            return (year, week // multiplier)
        if interval == "month":
            return (day.year, (day.month - 1) // multiplier)
        return (day.year // multiplier,)

    grouped: dict[tuple[int, ...], list[Row]] = {}
    for bar in bars:
        grouped.setdefault(bucket(bar), []).append(bar)
    return [
        {
            "open": group[0]["open"],
            "close": group[-1]["close"],
            "high": max(b["high"] for b in group),
            "low": min(b["low"] for b in group),
            "volume": sum(b["volume"] for b in group),
            "time": group[0]["time"],
            "time_milliseconds": group[0]["time_milliseconds"],
        }
        for group in grouped.values()
    ]


# pytest fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def market_data_server_session() -> Iterator[MarketDataServer]:
    """One stand-in for the whole session; tests use `market_data_server` instead."""
    with MarketDataServer() as server:
        yield server


@pytest.fixture
def market_data_server(market_data_server_session: MarketDataServer) -> Iterator[MarketDataServer]:
    """The market-data stand-in with no recorded requests or injected failures."""
    market_data_server_session.reset()
    yield market_data_server_session
    market_data_server_session.reset()
