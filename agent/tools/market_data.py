"""The market-data tools: what the model may ask the Financial Datasets API, and how.

Each tool is one row of `ENDPOINTS`: an argument model (what the model may send, checked
before any request), the `FinancialDatasetsClient` call that answers it, a description
telling the model when to use it, and names for sources and progress displays. One
wrapper turns every row into a `Tool`; names and descriptions follow the original Dexter
agent's finance tools.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from agent.tools.errors import ToolError
from agent.tools.financial_datasets import (
    ApiResponse,
    DateFilter,
    FilingType,
    FinancialDatasetsClient,
    PerPeriod,
)
from agent.tools.registry import Tool, ToolOutput, ToolRegistry
from stores.models import Source

SOURCE_NAME = "Financial Datasets"
ArgsT = TypeVar("ArgsT", bound=BaseModel)
TICKER_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,6}([.-][A-Z0-9]{1,3})?$")
ACCESSION_PATTERN = r"^\d{10}-\d{2}-\d{6}$"


def _ticker(value: object) -> str:
    """Tickers as the API spells them: upper case, no `$`, no spaces; rejected otherwise."""
    if not isinstance(value, str):
        raise ValueError("must be a ticker symbol string such as 'AAPL'")
    ticker = value.strip().lstrip("$").upper()
    if not TICKER_PATTERN.match(ticker):
        raise ValueError(
            f"{value!r} is not a ticker symbol; use the exchange symbol, e.g. 'AAPL' for Apple"
        )
    return ticker


Ticker = Annotated[
    str,
    BeforeValidator(_ticker),
    Field(description="Stock ticker symbol, e.g. 'AAPL' for Apple, 'BRK.B' for Berkshire B."),
]


class _Args(BaseModel):
    """Arguments every tool takes. Unknown ones are refused, so a made-up parameter is
    reported to the model instead of being silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ticker: Ticker


def _check_range(low: date | None, high: date | None, low_name: str, high_name: str) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"{low_name} ({low}) is after {high_name} ({high})")


class _PeriodArgs(_Args):
    period: Literal["annual", "quarterly", "ttm"] = Field(
        "annual",
        description="'annual' for fiscal years, 'quarterly' for quarters, 'ttm' for trailing "
        "twelve months.",
    )
    limit: int = Field(
        4,
        ge=1,
        le=40,
        description="How many periods, newest first. Use the smallest that answers: 1 for "
        "the latest, 5 for a five-year trend.",
    )
    report_period: date | None = Field(None, description="Only the period ending on this date.")
    report_period_gt: date | None = Field(None, description="Periods ending after this date.")
    report_period_gte: date | None = Field(None, description="Periods ending on or after it.")
    report_period_lt: date | None = Field(None, description="Periods ending before this date.")
    report_period_lte: date | None = Field(None, description="Periods ending on or before it.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_range(
            self.report_period_gte or self.report_period_gt,
            self.report_period_lte or self.report_period_lt,
            "the report_period lower bound",
            "the upper bound",
        )
        return self

    def report_period_filter(self) -> DateFilter:
        return DateFilter(
            self.report_period,
            self.report_period_gt,
            self.report_period_gte,
            self.report_period_lt,
            self.report_period_lte,
        )


class StatementArgs(_PeriodArgs):
    """A company's statements for some periods (YYYY-MM-DD bounds on the period end)."""


class MetricsArgs(_PeriodArgs):
    period: Literal["ttm", "annual", "quarterly"] = Field(
        "ttm", description="'ttm' (trailing twelve months), 'annual' or 'quarterly'."
    )


class TickerArgs(_Args):
    """Just the company."""


class PriceArgs(_Args):
    start_date: date = Field(description="First day, YYYY-MM-DD.")
    end_date: date = Field(description="Last day, YYYY-MM-DD; today or earlier.")
    interval: Literal["day", "week", "month", "year"] = Field(
        "day", description="Bar size. Use 'week' or 'month' for ranges longer than a quarter."
    )
    interval_multiplier: int = Field(1, ge=1, le=12, description="Bars of N intervals each.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_range(self.start_date, self.end_date, "start_date", "end_date")
        return self


class NewsArgs(_Args):
    limit: int = Field(5, ge=1, le=10, description="How many recent articles (at most 10).")


class FilingsArgs(_Args):
    filing_type: list[Literal["10-K", "10-Q", "8-K"]] | None = Field(
        None, description="Only these filing types; omit for the latest filings of any type."
    )
    limit: int = Field(10, ge=1, le=50, description="How many filings, newest first.")


class FilingItemsArgs(_Args):
    filing_type: Literal["10-K", "10-Q"] = Field(
        description="'10-K' for the annual report, '10-Q' for a quarterly report."
    )
    year: int | None = Field(
        None, ge=1994, le=2100, description="Fiscal year of the filing; omit for the latest."
    )
    quarter: int | None = Field(None, ge=1, le=4, description="Fiscal quarter, for a 10-Q.")
    accession_number: str | None = Field(
        None,
        pattern=ACCESSION_PATTERN,
        description="SEC accession number from get_filings, e.g. '0000320193-24-000123'; "
        "instead of year and quarter.",
    )
    items: list[str] | None = Field(
        None,
        max_length=10,
        description="Sections to return, e.g. ['Item-1A', 'Item-7'] for a 10-K or "
        "['Part-1,Item-2'] for a 10-Q; omit for every section (long).",
    )

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if (
            self.filing_type == "10-Q"
            and self.year is not None
            and self.quarter is None
            and self.accession_number is None
        ):
            raise ValueError("a 10-Q by year also needs its quarter (1-3)")
        return self


class SegmentArgs(_Args):
    period: Literal["annual", "quarterly"] = Field("annual", description="'annual' or 'quarterly'.")
    limit: int = Field(4, ge=1, le=20, description="How many periods, newest first.")


class InsiderTradeArgs(_Args):
    limit: int = Field(20, ge=1, le=200, description="How many trades, newest filing first.")
    filing_date_gte: date | None = Field(None, description="Trades filed on or after this date.")
    filing_date_lte: date | None = Field(None, description="Trades filed on or before this date.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_range(
            self.filing_date_gte, self.filing_date_lte, "filing_date_gte", "filing_date_lte"
        )
        return self


class EstimateArgs(_Args):
    period: Literal["annual", "quarterly"] = Field(
        "annual", description="Estimates for coming fiscal years or coming quarters."
    )


# the table --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[ArgsT]):
    """One market-data tool: what the model sees, and which client call answers it.

    `what` names the data for sources and errors ("income statements (annual)"), `label`
    the call for progress displays ("income statements · AAPL").
    """

    name: str
    description: str
    args_model: type[ArgsT]
    fetch: Callable[[FinancialDatasetsClient, ArgsT], Awaitable[ApiResponse]]
    what: Callable[[ArgsT], str]
    label: Callable[[ArgsT], str]
    topics: tuple[str, ...]
    """Word starts that, in a planned task, call for this endpoint: only the tools a
    wave's tasks call for are sent with its execute call (`agent.phases.execute`)."""

    def tool(self, client: FinancialDatasetsClient) -> Tool[ArgsT]:
        return Tool(
            name=self.name,
            description=self.description,
            args_model=self.args_model,
            run=partial(_answered, self, client),
            label=self.label,
            topics=self.topics,
        )


def _topics(listed: str) -> tuple[str, ...]:
    """An endpoint's topics, written as one comma-separated list."""
    return tuple(topic.strip() for topic in listed.split(",") if topic.strip())


async def _answered(
    endpoint: Endpoint[Any], client: FinancialDatasetsClient, args: Any
) -> ToolOutput:
    """The endpoint's data and its source; no data at all is an error the model hears of."""
    response = await endpoint.fetch(client, args)
    what = endpoint.what(args)
    if not response.data:
        raise ToolError(f"the API returned no {what} for {args.ticker} with these parameters")
    return ToolOutput(response.data, Source(f"{SOURCE_NAME}: {args.ticker} {what}", response.url))


def _statements(
    kind: PerPeriod,
) -> Callable[[FinancialDatasetsClient, _PeriodArgs], Awaitable[ApiResponse]]:
    """The fetch of a per-period endpoint (statements, metrics)."""

    def fetch(client: FinancialDatasetsClient, args: _PeriodArgs) -> Awaitable[ApiResponse]:
        return client.per_period(
            kind,
            args.ticker,
            period=args.period,
            limit=args.limit,
            report_period=args.report_period_filter(),
        )

    return fetch


async def _filing_items(client: FinancialDatasetsClient, args: FilingItemsArgs) -> ApiResponse:
    """Sections of a filing; without a year or accession number, of the latest one."""
    accession = args.accession_number
    kind: FilingType = args.filing_type
    if accession is None and args.year is None:
        latest = await client.filings(args.ticker, filing_types=[kind], limit=1)
        if not latest.data:
            raise ToolError(
                f"the API returned no {kind} filings for {args.ticker} with these parameters"
            )
        accession = str(latest.data[0]["accession_number"])
    response = await client.filing_items(
        args.ticker,
        filing_type=kind,
        year=args.year if accession is None else None,
        quarter=args.quarter if accession is None else None,
        accession_number=accession,
        items=args.items or (),
    )
    if not response.data.get("items"):  # the filing's metadata comes back all the same
        raise ToolError(f"the API returned no {kind} items for {args.ticker} with these parameters")
    return response


ENDPOINTS: tuple[Endpoint[Any], ...] = (
    Endpoint(
        name="get_income_statements",
        description="Income statements of a company: revenue, cost of revenue, gross "
        "profit, operating expenses, operating income, net income, EPS and share counts "
        "per period. Use for revenue and profit questions, margins computed by hand and "
        "growth over years or quarters.",
        args_model=StatementArgs,
        fetch=_statements("income_statements"),
        what=lambda a: f"income statements ({a.period})",
        label=lambda a: f"income statements · {a.ticker}",
        topics=_topics(
            "income, revenue, sales, earnings, profit, eps, margin, gross, "
            "operating, expense, cost of, r&d, ebit, top line, bottom line, "
            "financial statement"
        ),
    ),
    Endpoint(
        name="get_balance_sheets",
        description="Balance sheets of a company at each period end: assets, cash, "
        "inventory, receivables, liabilities, debt, deferred revenue, shareholders' equity "
        "and shares outstanding. Use for financial position, liquidity and leverage.",
        args_model=StatementArgs,
        fetch=_statements("balance_sheets"),
        what=lambda a: f"balance sheets ({a.period})",
        label=lambda a: f"balance sheets · {a.ticker}",
        topics=_topics(
            "balance sheet, asset, liabilit, debt, cash, equity, inventor, "
            "receivable, book value, leverage, liquidity, shares outstanding, "
            "working capital, financial statement"
        ),
    ),
    Endpoint(
        name="get_cash_flow_statements",
        description="Cash flow statements of a company: operating cash flow, capital "
        "expenditure, free cash flow, acquisitions, buybacks, dividends, debt issued or "
        "repaid and the change in cash. Use for cash generation and capital allocation.",
        args_model=StatementArgs,
        fetch=_statements("cash_flow_statements"),
        what=lambda a: f"cash flow statements ({a.period})",
        label=lambda a: f"cash flow statements · {a.ticker}",
        topics=_topics(
            "cash flow, free cash, fcf, capex, capital expenditure, "
            "capital allocation, buyback, repurchase, dividend, financial statement"
        ),
    ),
    Endpoint(
        name="get_financial_metrics",
        description="Historical financial metrics of a company per period: valuation "
        "(P/E, P/B, P/S, EV/EBITDA, FCF yield), margins, returns (ROE, ROA, ROIC), "
        "liquidity, leverage, growth rates and per-share figures. Use for ratio trends "
        "over time; use get_financial_metrics_snapshot for today's values.",
        args_model=MetricsArgs,
        fetch=_statements("financial_metrics"),
        what=lambda a: f"financial metrics ({a.period})",
        label=lambda a: f"financial metrics · {a.ticker}",
        topics=_topics(
            "metric, ratio, valuation, multiple, p/e, p/b, p/s, ev/ebitda, roe, roa, "
            "roic, return on, margin, growth, yield, per share"
        ),
    ),
    Endpoint(
        name="get_financial_metrics_snapshot",
        description="Current key metrics of a company: market cap, enterprise value, "
        "P/E and other valuation ratios at today's price, margins, returns and growth. "
        "Use for 'how is it valued now' questions.",
        args_model=TickerArgs,
        fetch=lambda client, a: client.financial_metrics_snapshot(a.ticker),
        what=lambda a: "financial metrics snapshot",
        label=lambda a: f"metrics snapshot · {a.ticker}",
        topics=_topics(
            "metric, ratio, valuation, valued, multiple, market cap, enterprise value, p/e, current"
        ),
    ),
    Endpoint(
        name="get_price_snapshot",
        description="Latest share price of a stock with its change on the day (absolute "
        "and percent) and time. Use for 'what is it trading at' questions.",
        args_model=TickerArgs,
        fetch=lambda client, a: client.price_snapshot(a.ticker),
        what=lambda a: "price snapshot",
        label=lambda a: f"price · {a.ticker}",
        topics=_topics("price, quote, trading, stock, share price, today, current"),
    ),
    Endpoint(
        name="get_prices",
        description="Historical open, high, low, close and volume bars of a stock between "
        "two dates. Use for price moves, returns and volatility over a period; prefer "
        "weekly or monthly bars for long ranges.",
        args_model=PriceArgs,
        fetch=lambda client, a: client.prices(
            a.ticker,
            start_date=a.start_date,
            end_date=a.end_date,
            interval=a.interval,
            interval_multiplier=a.interval_multiplier,
        ),
        what=lambda a: f"prices {a.start_date} to {a.end_date} ({a.interval})",
        label=lambda a: f"prices · {a.ticker} {a.start_date}→{a.end_date}",
        topics=_topics(
            "price, return, performance, volatil, move, rall, drop, fell, rose, "
            "52-week, histor, chart"
        ),
    ),
    Endpoint(
        name="get_company_news",
        description="Recent news articles about a company: title, source, date, URL and "
        "sentiment. Use for catalysts, explanations of price moves and recent events.",
        args_model=NewsArgs,
        fetch=lambda client, a: client.news(a.ticker, limit=a.limit),
        what=lambda a: "company news",
        label=lambda a: f"news · {a.ticker}",
        topics=_topics(
            "news, headline, announce, article, event, catalyst, sentiment, recent, why"
        ),
    ),
    Endpoint(
        name="get_filings",
        description="List of a company's SEC filings (10-K, 10-Q, 8-K) with report dates, "
        "accession numbers and links. Metadata only: use get_filing_items for the text.",
        args_model=FilingsArgs,
        fetch=lambda client, a: client.filings(
            a.ticker, filing_types=a.filing_type or (), limit=a.limit
        ),
        what=lambda a: "SEC filings",
        label=lambda a: f"SEC filings · {a.ticker}",
        topics=_topics(
            "filing, filed, 10-k, 10-q, 8-k, annual report, quarterly report, accession"
        ),
    ),
    Endpoint(
        name="get_filing_items",
        description="Text of chosen sections of a 10-K or 10-Q filing. Items of a 10-K "
        "include Item-1 (business), Item-1A (risk factors) and Item-7 (MD&A); of a 10-Q, "
        "Part-1,Item-2 (MD&A) and Part-2,Item-1A (risk factors). Use for risks, strategy "
        "and management's own explanation; ask for specific items, the full text is long.",
        args_model=FilingItemsArgs,
        fetch=_filing_items,
        what=lambda a: f"{a.filing_type} items",
        label=lambda a: f"{a.filing_type} items · {a.ticker}",
        topics=_topics(
            "filing, 10-k, 10-q, annual report, risk, md&a, management, strategy, business, item"
        ),
    ),
    Endpoint(
        name="get_segmented_revenues",
        description="Revenue of a company broken down by product line, business segment "
        "and geography, as reported in its filings. Use for 'where does revenue come "
        "from' and segment growth questions.",
        args_model=SegmentArgs,
        fetch=lambda client, a: client.segmented_revenues(a.ticker, period=a.period, limit=a.limit),
        what=lambda a: f"segmented revenues ({a.period})",
        label=lambda a: f"segmented revenues · {a.ticker}",
        topics=_topics(
            "segment, product, region, geograph, breakdown, broken down, division, "
            "business line, line of business, services"
        ),
    ),
    Endpoint(
        name="get_insider_trades",
        description="Purchases and sales of a company's stock by its executives and "
        "directors (SEC Form 4): who, role, date, shares, price and value. Use for insider "
        "buying or selling questions.",
        args_model=InsiderTradeArgs,
        fetch=lambda client, a: client.insider_trades(
            a.ticker,
            limit=a.limit,
            filing_date=DateFilter(gte=a.filing_date_gte, lte=a.filing_date_lte),
        ),
        what=lambda a: "insider trades",
        label=lambda a: f"insider trades · {a.ticker}",
        topics=_topics(
            "insider, executive, director, ceo, cfo, form 4, bought, sold, buying, selling"
        ),
    ),
    Endpoint(
        name="get_analyst_estimates",
        description="Consensus-style estimates of a company's revenue and EPS for coming "
        "fiscal years or quarters. Use for expectations, forward growth and forward P/E.",
        args_model=EstimateArgs,
        fetch=lambda client, a: client.analyst_estimates(a.ticker, period=a.period),
        what=lambda a: f"analyst estimates ({a.period})",
        label=lambda a: f"analyst estimates · {a.ticker}",
        topics=_topics(
            "estimate, forecast, consensus, analyst, expect, guidance, forward, "
            "outlook, next year, next quarter, coming"
        ),
    ),
)


def market_data_tools(client: FinancialDatasetsClient) -> list[Tool[Any]]:
    """Every market-data tool, bound to `client`, in the order the model sees them."""
    return [endpoint.tool(client) for endpoint in ENDPOINTS]


def market_data_registry(
    client: FinancialDatasetsClient, *, timeout: float, result_tokens: int, cache_ttl: float = 0.0
) -> ToolRegistry:
    """The agent's registry: every market-data tool, with settings' timeout, budget and TTL."""
    return ToolRegistry(
        market_data_tools(client),
        timeout=timeout,
        result_tokens=result_tokens,
        cache_ttl=cache_ttl,
    )
