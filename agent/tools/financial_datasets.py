"""An async client for the Financial Datasets API (https://docs.financialdatasets.ai).

One method per endpoint Dexter uses; each returns the part of the response that holds the
data, with the exact URL it called (the key travels in the `x-api-key` header, never in
the URL, so the URL is safe to cite and log). Every failure - a refused key, a missing
plan, an unknown ticker, rate limiting, a server error, a timeout, a body that is not
JSON - raises `ToolError` with a reason the model can read, so one bad call never stops
a run. Responses are cached per path and query for `cache_ttl` seconds, because a
research run often asks the same question twice (plan, then re-plan after reflection).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from cachetools import TTLCache

from agent.tools.errors import ToolError

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 256
DETAIL_CHARS = 200

Period = Literal["annual", "quarterly", "ttm"]
ReportedPeriod = Literal["annual", "quarterly"]
Interval = Literal["day", "week", "month", "year"]
FilingType = Literal["10-K", "10-Q", "8-K"]
PerPeriod = Literal[
    "income_statements", "balance_sheets", "cash_flow_statements", "financial_metrics"
]

PER_PERIOD_PATHS: dict[PerPeriod, str] = {
    "income_statements": "/financials/income-statements/",
    "balance_sheets": "/financials/balance-sheets/",
    "cash_flow_statements": "/financials/cash-flow-statements/",
    "financial_metrics": "/financial-metrics/",
}
"""Where each per-period endpoint lives; its response holds the figures under the same name."""
ParamValue = str | int | date | Sequence[str] | None
CacheKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class DateFilter:
    """Bounds on a date field, sent as `<field>`, `<field>_gt`, `_gte`, `_lt` and `_lte`."""

    eq: date | None = None
    gt: date | None = None
    gte: date | None = None
    lt: date | None = None
    lte: date | None = None

    def params(self, field: str) -> dict[str, ParamValue]:
        bounds = {"": self.eq, "_gt": self.gt, "_gte": self.gte, "_lt": self.lt, "_lte": self.lte}
        return {f"{field}{suffix}": value for suffix, value in bounds.items() if value is not None}


NO_FILTER = DateFilter()


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """The data part of a response and the URL that produced it (key-free, citable)."""

    data: Any
    url: str


@dataclass(frozen=True, slots=True)
class _Cached:
    """A fresh response, kept as its bytes so every caller parses a copy of its own."""

    body: bytes
    url: str


class FinancialDatasetsClient:
    """Reads market data over one `httpx.AsyncClient`; safe to share between tasks.

    Pass `http` to share a connection pool (the caller then closes it); otherwise the
    client owns one and `aclose()` closes it. `cache_ttl=0` turns the cache off.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        cache_ttl: float,
        http: httpx.AsyncClient | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key or None
        self._timeout = timeout
        self._cache: TTLCache[CacheKey, _Cached] = TTLCache(maxsize=cache_size, ttl=cache_ttl)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # endpoints --------------------------------------------------------------------------

    async def per_period(
        self,
        kind: PerPeriod,
        ticker: str,
        *,
        period: Period,
        limit: int,
        report_period: DateFilter = NO_FILTER,
    ) -> ApiResponse:
        """Figures per reporting period: one of the three statements, or the metrics."""
        params: dict[str, ParamValue] = {
            "ticker": ticker,
            "period": period,
            "limit": limit,
            **report_period.params("report_period"),
        }
        return await self._get(PER_PERIOD_PATHS[kind], params, kind)

    async def financial_metrics_snapshot(self, ticker: str) -> ApiResponse:
        return await self._get("/financial-metrics/snapshot/", {"ticker": ticker}, "snapshot")

    async def price_snapshot(self, ticker: str) -> ApiResponse:
        return await self._get("/prices/snapshot/", {"ticker": ticker}, "snapshot")

    async def prices(
        self,
        ticker: str,
        *,
        start_date: date,
        end_date: date,
        interval: Interval = "day",
        interval_multiplier: int = 1,
    ) -> ApiResponse:
        params: dict[str, ParamValue] = {
            "ticker": ticker,
            "interval": interval,
            "interval_multiplier": interval_multiplier,
            "start_date": start_date,
            "end_date": end_date,
        }
        return await self._get("/prices/", params, "prices")

    async def news(self, ticker: str, *, limit: int) -> ApiResponse:
        return await self._get("/news/", {"ticker": ticker, "limit": limit}, "news")

    async def filings(
        self, ticker: str, *, filing_types: Sequence[FilingType] = (), limit: int
    ) -> ApiResponse:
        params: dict[str, ParamValue] = {
            "ticker": ticker,
            "filing_type": list(filing_types) or None,
            "limit": limit,
        }
        return await self._get("/filings/", params, "filings")

    async def filing_items(
        self,
        ticker: str,
        *,
        filing_type: FilingType,
        year: int | None = None,
        quarter: int | None = None,
        accession_number: str | None = None,
        items: Sequence[str] = (),
    ) -> ApiResponse:
        """The sections of one filing, found by year (and quarter) or accession number."""
        params: dict[str, ParamValue] = {
            "ticker": ticker,
            "filing_type": filing_type,
            "year": year,
            "quarter": quarter,
            "accession_number": accession_number,
            "item": list(items) or None,
        }
        return await self._get("/filings/items/", params, "items", whole=True)

    async def segmented_revenues(
        self, ticker: str, *, period: ReportedPeriod, limit: int
    ) -> ApiResponse:
        params: dict[str, ParamValue] = {"ticker": ticker, "period": period, "limit": limit}
        return await self._get("/financials/segmented-revenues/", params, "segmented_revenues")

    async def insider_trades(
        self, ticker: str, *, limit: int, filing_date: DateFilter = NO_FILTER
    ) -> ApiResponse:
        params: dict[str, ParamValue] = {
            "ticker": ticker,
            "limit": limit,
            **filing_date.params("filing_date"),
        }
        return await self._get("/insider-trades/", params, "insider_trades")

    async def analyst_estimates(self, ticker: str, *, period: ReportedPeriod) -> ApiResponse:
        params: dict[str, ParamValue] = {"ticker": ticker, "period": period}
        return await self._get("/analyst-estimates/", params, "analyst_estimates")

    # transport --------------------------------------------------------------------------

    async def _get(
        self, path: str, params: Mapping[str, ParamValue], field: str, *, whole: bool = False
    ) -> ApiResponse:
        """GET `path`, from the cache when fresh; the response's `field` (or all of it)."""
        query = tuple(_query(params))
        key: CacheKey = (path, tuple(sorted(query)))
        cached = self._cache.get(key)
        if cached is not None:
            log.debug("market data cache hit: %s", cached.url)
            return ApiResponse(_pick(json.loads(cached.body), field, whole, path), cached.url)
        payload, body, url = await self._fetch(path, query)
        data = _pick(payload, field, whole, path)
        self._cache[key] = _Cached(body, url)
        return ApiResponse(data, url)

    async def _fetch(
        self, path: str, query: tuple[tuple[str, str], ...]
    ) -> tuple[dict[str, Any], bytes, str]:
        """The parsed JSON object, its raw bytes and the URL called; `ToolError` otherwise."""
        if self._api_key is None:
            raise ToolError(
                "no Financial Datasets API key is configured (FINANCIAL_DATASETS_API_KEY)"
            )
        url = httpx.URL(f"{self._base_url}{path}", params=query)
        shown = str(url)
        started = time.perf_counter()
        try:
            response = await self._http.get(
                url, headers={"x-api-key": self._api_key}, timeout=self._timeout
            )
        except httpx.TimeoutException:
            log.warning("market data request timed out after %.1f s: %s", self._timeout, shown)
            raise ToolError(
                f"the market-data API did not answer within {self._timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            log.warning("market data request failed: %s (%s)", shown, type(exc).__name__)
            raise ToolError(
                f"the market-data API could not be reached ({type(exc).__name__})"
            ) from None
        elapsed = time.perf_counter() - started
        if response.status_code >= 400:
            reason = _http_reason(response.status_code, self._detail(response))
            log.warning("market data HTTP %s in %.2f s: %s", response.status_code, elapsed, shown)
            raise ToolError(reason, status=response.status_code)
        try:
            payload = response.json()
        except ValueError:
            log.warning("market data response is not JSON: %s", shown)
            raise ToolError(
                f"the market-data API sent a response that is not JSON "
                f"(HTTP {response.status_code}, {response.headers.get('content-type', '?')})"
            ) from None
        if not isinstance(payload, dict):
            raise ToolError(f"the market-data API sent an unexpected response shape for {path}")
        log.debug("market data HTTP %s in %.2f s: %s", response.status_code, elapsed, shown)
        return payload, response.content, shown

    def _detail(self, response: httpx.Response) -> str:
        """The API's own error message, short, with the key masked should it ever echo it."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        message = next((str(body[k]) for k in ("message", "detail", "error") if body.get(k)), "")
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message[:DETAIL_CHARS]


def _query(params: Mapping[str, ParamValue]) -> Iterable[tuple[str, str]]:
    """Query pairs in order, repeating a key for each value of a list; None means absent."""
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, str | int | date):
            yield name, value.isoformat() if isinstance(value, date) else str(value)
        else:
            for item in value:
                yield name, str(item)


def _pick(payload: dict[str, Any], field: str, whole: bool, path: str) -> Any:
    if field not in payload:
        raise ToolError(f"the market-data API response for {path} has no '{field}' field")
    return payload if whole else payload[field]


def _http_reason(status: int, detail: str) -> str:
    """What an HTTP error status means for the caller, in words the model can act on."""
    said = f": {detail}" if detail else ""
    if status == 400:
        return f"the market-data API rejected the request (HTTP 400{said})"
    if status == 401:
        return "the market-data API key was rejected (HTTP 401); no market data is available"
    if status == 402:
        return "this data needs a paid Financial Datasets plan (HTTP 402)"
    if status == 403:
        return "the market-data API key may not read this data (HTTP 403)"
    if status == 404:
        return f"the market-data API has no data for this request (HTTP 404{said})"
    if status == 429:
        return "the market-data API is rate limiting requests (HTTP 429); try again shortly"
    if status >= 500:
        return f"the market-data API failed (HTTP {status}); try again shortly"
    return f"the market-data API refused the request (HTTP {status}{said})"
