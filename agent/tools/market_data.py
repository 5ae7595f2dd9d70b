"""The market-data tools: what the model may ask the Financial Datasets API, and how.

Each tool is an argument model (what the model may send, checked before any request), an
async function over `FinancialDatasetsClient`, a description telling the model when to
use it, and a label for progress displays. `market_data_tools` lists them all; names and
descriptions follow the original Dexter agent's finance tools.
"""

from __future__ import annotations

import re
from datetime import date
from functools import partial
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from agent.tools.errors import ToolError
from agent.tools.financial_datasets import (
    ApiResponse,
    DateFilter,
    FilingType,
    FinancialDatasetsClient,
)
from agent.tools.registry import Tool, ToolOutput, ToolRegistry
from stores.models import Source

SOURCE_NAME = "Financial Datasets"
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


# tool functions --------------------------------------------------------------------------


def _source(response: ApiResponse, ticker: str, what: str) -> Source:
    return Source(title=f"{SOURCE_NAME}: {ticker} {what}", url=response.url)


def _required(response: ApiResponse, ticker: str, what: str) -> Any:
    """The response's data; none at all is an error the model should hear about."""
    if not response.data:
        raise ToolError(f"the API returned no {what} for {ticker} with these parameters")
    return response.data


async def _income_statements(client: FinancialDatasetsClient, args: StatementArgs) -> ToolOutput:
    response = await client.income_statements(
        args.ticker,
        period=args.period,
        limit=args.limit,
        report_period=args.report_period_filter(),
    )
    what = f"income statements ({args.period})"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _balance_sheets(client: FinancialDatasetsClient, args: StatementArgs) -> ToolOutput:
    response = await client.balance_sheets(
        args.ticker,
        period=args.period,
        limit=args.limit,
        report_period=args.report_period_filter(),
    )
    what = f"balance sheets ({args.period})"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _cash_flow_statements(client: FinancialDatasetsClient, args: StatementArgs) -> ToolOutput:
    response = await client.cash_flow_statements(
        args.ticker,
        period=args.period,
        limit=args.limit,
        report_period=args.report_period_filter(),
    )
    what = f"cash flow statements ({args.period})"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _financial_metrics(client: FinancialDatasetsClient, args: MetricsArgs) -> ToolOutput:
    response = await client.financial_metrics(
        args.ticker,
        period=args.period,
        limit=args.limit,
        report_period=args.report_period_filter(),
    )
    what = f"financial metrics ({args.period})"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _metrics_snapshot(client: FinancialDatasetsClient, args: TickerArgs) -> ToolOutput:
    response = await client.financial_metrics_snapshot(args.ticker)
    what = "financial metrics snapshot"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _price_snapshot(client: FinancialDatasetsClient, args: TickerArgs) -> ToolOutput:
    response = await client.price_snapshot(args.ticker)
    what = "price snapshot"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _prices(client: FinancialDatasetsClient, args: PriceArgs) -> ToolOutput:
    response = await client.prices(
        args.ticker,
        start_date=args.start_date,
        end_date=args.end_date,
        interval=args.interval,
        interval_multiplier=args.interval_multiplier,
    )
    what = f"prices {args.start_date} to {args.end_date} ({args.interval})"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _news(client: FinancialDatasetsClient, args: NewsArgs) -> ToolOutput:
    response = await client.news(args.ticker, limit=args.limit)
    what = "company news"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _filings(client: FinancialDatasetsClient, args: FilingsArgs) -> ToolOutput:
    response = await client.filings(
        args.ticker, filing_types=args.filing_type or (), limit=args.limit
    )
    what = "SEC filings"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _filing_items(client: FinancialDatasetsClient, args: FilingItemsArgs) -> ToolOutput:
    """Sections of a filing; without a year or accession number, of the latest one."""
    accession = args.accession_number
    kind: FilingType = args.filing_type
    if accession is None and args.year is None:
        latest = await client.filings(args.ticker, filing_types=[kind], limit=1)
        filings = _required(latest, args.ticker, f"{kind} filings")
        accession = str(filings[0]["accession_number"])
    response = await client.filing_items(
        args.ticker,
        filing_type=kind,
        year=args.year if accession is None else None,
        quarter=args.quarter if accession is None else None,
        accession_number=accession,
        items=args.items or (),
    )
    what = f"{kind} items"
    if not response.data.get("items"):
        raise ToolError(f"the API returned no {what} for {args.ticker} with these parameters")
    return ToolOutput(response.data, _source(response, args.ticker, what))


async def _segmented_revenues(client: FinancialDatasetsClient, args: SegmentArgs) -> ToolOutput:
    response = await client.segmented_revenues(args.ticker, period=args.period, limit=args.limit)
    what = f"segmented revenues ({args.period})"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _insider_trades(client: FinancialDatasetsClient, args: InsiderTradeArgs) -> ToolOutput:
    response = await client.insider_trades(
        args.ticker,
        limit=args.limit,
        filing_date=DateFilter(gte=args.filing_date_gte, lte=args.filing_date_lte),
    )
    what = "insider trades"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


async def _analyst_estimates(client: FinancialDatasetsClient, args: EstimateArgs) -> ToolOutput:
    response = await client.analyst_estimates(args.ticker, period=args.period)
    what = f"analyst estimates ({args.period})"
    return ToolOutput(_required(response, args.ticker, what), _source(response, args.ticker, what))


# the list --------------------------------------------------------------------------------


def market_data_tools(client: FinancialDatasetsClient) -> list[Tool[Any]]:
    """Every market-data tool, bound to `client`, in the order the model sees them."""
    return [
        Tool(
            name="get_income_statements",
            description="Income statements of a company: revenue, cost of revenue, gross "
            "profit, operating expenses, operating income, net income, EPS and share counts "
            "per period. Use for revenue and profit questions, margins computed by hand and "
            "growth over years or quarters.",
            args_model=StatementArgs,
            run=partial(_income_statements, client),
            label=lambda a: f"income statements · {a.ticker}",
        ),
        Tool(
            name="get_balance_sheets",
            description="Balance sheets of a company at each period end: assets, cash, "
            "inventory, receivables, liabilities, debt, deferred revenue, shareholders' equity "
            "and shares outstanding. Use for financial position, liquidity and leverage.",
            args_model=StatementArgs,
            run=partial(_balance_sheets, client),
            label=lambda a: f"balance sheets · {a.ticker}",
        ),
        Tool(
            name="get_cash_flow_statements",
            description="Cash flow statements of a company: operating cash flow, capital "
            "expenditure, free cash flow, acquisitions, buybacks, dividends, debt issued or "
            "repaid and the change in cash. Use for cash generation and capital allocation.",
            args_model=StatementArgs,
            run=partial(_cash_flow_statements, client),
            label=lambda a: f"cash flow statements · {a.ticker}",
        ),
        Tool(
            name="get_financial_metrics",
            description="Historical financial metrics of a company per period: valuation "
            "(P/E, P/B, P/S, EV/EBITDA, FCF yield), margins, returns (ROE, ROA, ROIC), "
            "liquidity, leverage, growth rates and per-share figures. Use for ratio trends "
            "over time; use get_financial_metrics_snapshot for today's values.",
            args_model=MetricsArgs,
            run=partial(_financial_metrics, client),
            label=lambda a: f"financial metrics · {a.ticker}",
        ),
        Tool(
            name="get_financial_metrics_snapshot",
            description="Current key metrics of a company: market cap, enterprise value, "
            "P/E and other valuation ratios at today's price, margins, returns and growth. "
            "Use for 'how is it valued now' questions.",
            args_model=TickerArgs,
            run=partial(_metrics_snapshot, client),
            label=lambda a: f"metrics snapshot · {a.ticker}",
        ),
        Tool(
            name="get_price_snapshot",
            description="Latest share price of a stock with its change on the day (absolute "
            "and percent) and time. Use for 'what is it trading at' questions.",
            args_model=TickerArgs,
            run=partial(_price_snapshot, client),
            label=lambda a: f"price · {a.ticker}",
        ),
        Tool(
            name="get_prices",
            description="Historical open, high, low, close and volume bars of a stock between "
            "two dates. Use for price moves, returns and volatility over a period; prefer "
            "weekly or monthly bars for long ranges.",
            args_model=PriceArgs,
            run=partial(_prices, client),
            label=lambda a: f"prices · {a.ticker} {a.start_date}→{a.end_date}",
        ),
        Tool(
            name="get_company_news",
            description="Recent news articles about a company: title, source, date, URL and "
            "sentiment. Use for catalysts, explanations of price moves and recent events.",
            args_model=NewsArgs,
            run=partial(_news, client),
            label=lambda a: f"news · {a.ticker}",
        ),
        Tool(
            name="get_filings",
            description="List of a company's SEC filings (10-K, 10-Q, 8-K) with report dates, "
            "accession numbers and links. Metadata only: use get_filing_items for the text.",
            args_model=FilingsArgs,
            run=partial(_filings, client),
            label=lambda a: f"SEC filings · {a.ticker}",
        ),
        Tool(
            name="get_filing_items",
            description="Text of chosen sections of a 10-K or 10-Q filing. Items of a 10-K "
            "include Item-1 (business), Item-1A (risk factors) and Item-7 (MD&A); of a 10-Q, "
            "Part-1,Item-2 (MD&A) and Part-2,Item-1A (risk factors). Use for risks, strategy "
            "and management's own explanation; ask for specific items, the full text is long.",
            args_model=FilingItemsArgs,
            run=partial(_filing_items, client),
            label=lambda a: f"{a.filing_type} items · {a.ticker}",
        ),
        Tool(
            name="get_segmented_revenues",
            description="Revenue of a company broken down by product line, business segment "
            "and geography, as reported in its filings. Use for 'where does revenue come "
            "from' and segment growth questions.",
            args_model=SegmentArgs,
            run=partial(_segmented_revenues, client),
            label=lambda a: f"segmented revenues · {a.ticker}",
        ),
        Tool(
            name="get_insider_trades",
            description="Purchases and sales of a company's stock by its executives and "
            "directors (SEC Form 4): who, role, date, shares, price and value. Use for insider "
            "buying or selling questions.",
            args_model=InsiderTradeArgs,
            run=partial(_insider_trades, client),
            label=lambda a: f"insider trades · {a.ticker}",
        ),
        Tool(
            name="get_analyst_estimates",
            description="Consensus-style estimates of a company's revenue and EPS for coming "
            "fiscal years or quarters. Use for expectations, forward growth and forward P/E.",
            args_model=EstimateArgs,
            run=partial(_analyst_estimates, client),
            label=lambda a: f"analyst estimates · {a.ticker}",
        ),
    ]


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
