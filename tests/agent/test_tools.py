"""The market-data tools against the Financial Datasets stand-in, over real HTTP.

Nothing of ours is patched: the client talks to `standins/market_data.py`, which a
test tells to fail, stall or answer garbage when it needs to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from agent.tokens import count_tokens
from agent.tools import FinancialDatasetsClient, ToolRegistry, ToolResult, market_data_registry
from standins.market_data import MarketDataServer

BUDGET = 1500


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    """One TLS context for the module: httpx builds one per client otherwise (~0.1 s each)."""
    return ssl.create_default_context()


@pytest.fixture
async def client(
    market_data_server: MarketDataServer, tls: ssl.SSLContext
) -> AsyncIterator[FinancialDatasetsClient]:
    async with httpx.AsyncClient(verify=tls) as http:
        yield FinancialDatasetsClient(
            market_data_server.url,
            market_data_server.api_key,
            timeout=2.0,
            cache_ttl=60.0,
            http=http,
        )


@pytest.fixture
def registry(client: FinancialDatasetsClient) -> ToolRegistry:
    return market_data_registry(client, timeout=5.0, result_tokens=BUDGET)


def registry_for(
    url: str,
    key: str | None,
    *,
    timeout: float = 2.0,
    cache_ttl: float = 60.0,
    tool_timeout: float = 5.0,
    result_tokens: int = BUDGET,
    cache_size: int = 256,
) -> tuple[FinancialDatasetsClient, ToolRegistry]:
    """A client and registry of their own, for tests that need other settings."""
    client = FinancialDatasetsClient(
        url,
        key,
        timeout=timeout,
        cache_ttl=cache_ttl,
        cache_size=cache_size,
    )
    return client, market_data_registry(client, timeout=tool_timeout, result_tokens=result_tokens)


def data_of(result: ToolResult) -> Any:
    """The data as the model reads it (the model text is JSON unless cut mid-way)."""
    return json.loads(result.model_text())["data"]


# every tool ------------------------------------------------------------------------------

APPLE_CASES: list[tuple[str, dict[str, Any], str, Callable[[Any], bool]]] = [
    (
        "get_income_statements",
        {"ticker": "AAPL"},
        "/financials/income-statements/",
        lambda d: d[0]["report_period"] == "2024-09-28" and d[0]["revenue"] == 391_035_000_000,
    ),
    (
        "get_balance_sheets",
        {"ticker": "AAPL"},
        "/financials/balance-sheets/",
        lambda d: d[0]["total_assets"] == 364_980_000_000,
    ),
    (
        "get_cash_flow_statements",
        {"ticker": "AAPL"},
        "/financials/cash-flow-statements/",
        lambda d: d[0]["net_cash_flow_from_operations"] == 118_254_000_000,
    ),
    (
        "get_financial_metrics",
        {"ticker": "AAPL", "limit": 2},
        "/financial-metrics/",
        lambda d: d[0]["period"] == "ttm" and 0.2 < d[0]["net_margin"] < 0.3,
    ),
    (
        "get_financial_metrics_snapshot",
        {"ticker": "AAPL"},
        "/financial-metrics/snapshot/",
        lambda d: d["ticker"] == "AAPL" and d["market_cap"] > 3e12,
    ),
    (
        "get_price_snapshot",
        {"ticker": "AAPL"},
        "/prices/snapshot/",
        lambda d: d["price"] == 250.42,
    ),
    (
        "get_prices",
        {"ticker": "AAPL", "start_date": "2024-12-02", "end_date": "2024-12-06"},
        "/prices/",
        lambda d: (
            [bar["time"][:10] for bar in d]
            == ["2024-12-02", "2024-12-03", "2024-12-04", "2024-12-05", "2024-12-06"]
        ),
    ),
    (
        "get_company_news",
        {"ticker": "AAPL"},
        "/news/",
        lambda d: len(d) == 5 and all(a["ticker"] == "AAPL" and a["url"] for a in d),
    ),
    (
        "get_filings",
        {"ticker": "AAPL", "filing_type": ["10-K"]},
        "/filings/",
        lambda d: len(d) == 6 and {f["filing_type"] for f in d} == {"10-K"},
    ),
    (
        "get_filing_items",
        {"ticker": "AAPL", "filing_type": "10-K", "year": 2024, "items": ["Item-1A"]},
        "/filings/items/",
        lambda d: [i["number"] for i in d["items"]] == ["Item-1A"] and d["year"] == 2024,
    ),
    (
        "get_segmented_revenues",
        {"ticker": "AAPL"},
        "/financials/segmented-revenues/",
        lambda d: "IPhone" in {item["segment"] for item in d[0]["items"]},
    ),
    (
        "get_insider_trades",
        {"ticker": "AAPL", "limit": 3},
        "/insider-trades/",
        lambda d: len(d) == 3 and all(t["issuer"] == "Apple Inc." for t in d),
    ),
    (
        "get_analyst_estimates",
        {"ticker": "AAPL"},
        "/analyst-estimates/",
        lambda d: {e["period"] for e in d} == {"annual"} and d[0]["earnings_per_share"] > 6,
    ),
]


def test_the_cases_cover_every_registered_tool(registry: ToolRegistry) -> None:
    assert [case[0] for case in APPLE_CASES] == registry.names


@pytest.mark.parametrize(
    ("tool", "arguments", "path", "check"), APPLE_CASES, ids=[c[0] for c in APPLE_CASES]
)
async def test_each_tool_returns_apple_data_with_the_url_it_called(
    registry: ToolRegistry,
    market_data_server: MarketDataServer,
    tool: str,
    arguments: dict[str, Any],
    path: str,
    check: Callable[[Any], bool],
) -> None:
    result = await registry.execute(tool, json.dumps(arguments))

    assert result.ok, result.error
    assert check(result.data)
    assert check(data_of(result))
    assert result.source is not None
    assert result.source.url.startswith(f"{market_data_server.url}{path}?")
    assert "ticker=AAPL" in result.source.url
    assert "AAPL" in result.source.title
    called = market_data_server.requests[-1]
    cited = urlsplit(result.source.url)
    assert (cited.path, parse_qs(cited.query)) == (called.path, called.query)
    assert result.tokens <= BUDGET
    assert not result.trimmed


async def test_latest_filing_items_are_found_through_the_filings_list(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    result = await registry.execute(
        "get_filing_items", {"ticker": "MSFT", "filing_type": "10-Q", "items": ["Part-1,Item-2"]}
    )

    assert result.ok, result.error
    assert (result.data["year"], result.data["quarter"]) == (2024, 3)
    listing, items = market_data_server.requests
    assert listing.path == "/filings/" and listing.query["filing_type"] == ["10-Q"]
    assert items.param("accession_number") == result.data["accession_number"]
    assert items.query["item"] == ["Part-1,Item-2"]


async def test_all_seven_companies_have_six_fiscal_years_and_24_quarters(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    tickers = ["AAPL", "MSFT", "NVDA", "GOOGL", "AMZN", "TSLA", "JPM"]
    annual, quarterly = await asyncio.gather(
        asyncio.gather(
            *(registry.execute("get_income_statements", {"ticker": t, "limit": 6}) for t in tickers)
        ),
        asyncio.gather(
            *(
                registry.execute(
                    "get_balance_sheets", {"ticker": t, "period": "quarterly", "limit": 40}
                )
                for t in tickers
            )
        ),
    )

    for ticker, years, quarters in zip(tickers, annual, quarterly, strict=True):
        assert [r["fiscal_period"] for r in years.data] == [
            f"{y}-FY" for y in range(2024, 2018, -1)
        ], ticker
        assert len(quarters.data) == 24, ticker
    assert set(market_data_server.tickers) >= set(tickers)


async def test_ttm_statements_sum_the_last_four_quarters(registry: ToolRegistry) -> None:
    ttm, quarters = await asyncio.gather(
        registry.execute("get_income_statements", {"ticker": "NVDA", "period": "ttm", "limit": 1}),
        registry.execute(
            "get_income_statements", {"ticker": "NVDA", "period": "quarterly", "limit": 4}
        ),
    )

    assert ttm.data[0]["revenue"] == sum(q["revenue"] for q in quarters.data)
    assert ttm.data[0]["report_period"] == quarters.data[0]["report_period"]


# parameters ------------------------------------------------------------------------------


async def test_statement_period_limit_and_report_period_filters_reach_the_server(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    result = await registry.execute(
        "get_cash_flow_statements",
        {
            "ticker": "GOOGL",
            "period": "quarterly",
            "limit": 3,
            "report_period_gte": "2023-01-01",
            "report_period_lte": "2023-12-31",
        },
    )

    sent = market_data_server.requests_to("/financials/cash-flow-statements/")[0]
    assert sent.query == {
        "ticker": ["GOOGL"],
        "period": ["quarterly"],
        "limit": ["3"],
        "report_period_gte": ["2023-01-01"],
        "report_period_lte": ["2023-12-31"],
    }
    assert [row["report_period"] for row in result.data] == [
        "2023-12-31",
        "2023-09-30",
        "2023-06-30",
    ]


async def test_price_dates_and_interval_reach_the_server(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    result = await registry.execute(
        "get_prices",
        {
            "ticker": "TSLA",
            "start_date": "2024-10-01",
            "end_date": "2024-12-31",
            "interval": "month",
        },
    )

    sent = market_data_server.requests_to("/prices/")[0]
    assert sent.query == {
        "ticker": ["TSLA"],
        "interval": ["month"],
        "interval_multiplier": ["1"],
        "start_date": ["2024-10-01"],
        "end_date": ["2024-12-31"],
    }
    assert [bar["time"][:7] for bar in result.data] == ["2024-10", "2024-11", "2024-12"]


async def test_list_parameters_are_repeated_and_date_filters_sent(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    filings, trades, news, estimates = await asyncio.gather(
        registry.execute("get_filings", {"ticker": "JPM", "filing_type": ["10-K", "10-Q"]}),
        registry.execute(
            "get_insider_trades", {"ticker": "JPM", "filing_date_gte": "2024-10-01", "limit": 50}
        ),
        registry.execute("get_company_news", {"ticker": "JPM", "limit": 2}),
        registry.execute("get_analyst_estimates", {"ticker": "JPM", "period": "quarterly"}),
    )

    assert market_data_server.requests_to("/filings/")[0].query["filing_type"] == ["10-K", "10-Q"]
    assert {f["filing_type"] for f in filings.data} == {"10-K", "10-Q"}
    assert market_data_server.requests_to("/insider-trades/")[0].param("filing_date_gte") == (
        "2024-10-01"
    )
    assert all(t["filing_date"] >= "2024-10-01" for t in trades.data)
    assert market_data_server.requests_to("/news/")[0].param("limit") == "2"
    assert len(news.data) == 2
    assert market_data_server.requests_to("/analyst-estimates/")[0].param("period") == "quarterly"
    assert {e["period"] for e in estimates.data} == {"quarterly"}


@pytest.mark.parametrize("written", ["aapl", " AAPL ", "$aapl"])
async def test_tickers_are_normalised_before_the_call(
    registry: ToolRegistry, market_data_server: MarketDataServer, written: str
) -> None:
    result = await registry.execute("get_price_snapshot", {"ticker": written})

    assert result.ok
    assert market_data_server.requests[0].param("ticker") == "AAPL"
    assert result.arguments["ticker"] == "AAPL"


async def test_a_malformed_ticker_is_rejected_without_a_request(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    result = await registry.execute("get_income_statements", {"ticker": "Apple Inc."})

    assert not result.ok
    assert "is not a ticker symbol" in (result.error or "")
    assert market_data_server.requests == []


# cache -----------------------------------------------------------------------------------


async def test_a_repeated_call_within_the_ttl_is_served_from_the_cache(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    first = await registry.execute("get_balance_sheets", {"ticker": "AMZN", "limit": 2})
    second = await registry.execute("get_balance_sheets", {"ticker": "amzn", "limit": 2})

    assert market_data_server.count("/financials/balance-sheets/") == 1
    assert second.data == first.data
    assert second.source == first.source


async def test_a_cached_answer_is_a_copy_callers_cannot_spoil(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    first = await registry.execute("get_price_snapshot", {"ticker": "MSFT"})
    first.data["price"] = 0

    second = await registry.execute("get_price_snapshot", {"ticker": "MSFT"})

    assert second.data["price"] == 421.50
    assert market_data_server.count("/prices/snapshot/") == 1


async def test_different_parameters_are_cached_apart(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    await registry.execute("get_balance_sheets", {"ticker": "AMZN", "limit": 2})
    await registry.execute("get_balance_sheets", {"ticker": "AMZN", "limit": 3})
    await registry.execute("get_balance_sheets", {"ticker": "AMZN", "period": "quarterly"})

    assert market_data_server.count("/financials/balance-sheets/") == 3


async def test_the_cache_expires_after_its_ttl(market_data_server: MarketDataServer) -> None:
    client, registry = registry_for(
        market_data_server.url, market_data_server.api_key, cache_ttl=1.0
    )
    async with client:
        await registry.execute("get_price_snapshot", {"ticker": "NVDA"})
        await registry.execute("get_price_snapshot", {"ticker": "NVDA"})
        await asyncio.sleep(1.2)
        await registry.execute("get_price_snapshot", {"ticker": "NVDA"})

    assert market_data_server.count("/prices/snapshot/") == 2


async def test_the_cache_keeps_only_the_most_recent_entries(
    market_data_server: MarketDataServer,
) -> None:
    client, registry = registry_for(
        market_data_server.url, market_data_server.api_key, cache_size=2
    )
    async with client:
        for ticker in ("AAPL", "MSFT", "NVDA", "AAPL"):
            await registry.execute("get_price_snapshot", {"ticker": ticker})

    assert market_data_server.count("/prices/snapshot/") == 4


async def test_failures_are_not_cached(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    market_data_server.fail("/news/", status=503, times=1)

    failed = await registry.execute("get_company_news", {"ticker": "TSLA"})
    retried = await registry.execute("get_company_news", {"ticker": "TSLA"})

    assert not failed.ok and retried.ok
    assert market_data_server.count("/news/") == 2


# failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (402, "needs a paid Financial Datasets plan (HTTP 402)"),
        (403, "may not read this data (HTTP 403)"),
        (429, "rate limiting requests (HTTP 429)"),
        (500, "failed (HTTP 500)"),
        (503, "failed (HTTP 503)"),
    ],
)
async def test_http_errors_become_no_data_envelopes(
    registry: ToolRegistry, market_data_server: MarketDataServer, status: int, reason: str
) -> None:
    market_data_server.fail("/financials/", status=status)

    result = await registry.execute("get_income_statements", {"ticker": "MSFT"})

    assert not result.ok
    assert result.error is not None and result.error.startswith("no data: ")
    assert reason in result.error
    assert result.model_text() == result.error
    assert result.source is None and result.data is None
    assert result.label == "income statements · MSFT"


async def test_a_rejected_key_is_reported_as_such(market_data_server: MarketDataServer) -> None:
    client, registry = registry_for(market_data_server.url, "not-the-key")
    async with client:
        result = await registry.execute("get_price_snapshot", {"ticker": "AAPL"})

    assert result.error == (
        "no data: the market-data API key was rejected (HTTP 401); no market data is available"
    )


async def test_an_unknown_ticker_is_reported_with_the_apis_reason(
    registry: ToolRegistry,
) -> None:
    result = await registry.execute("get_income_statements", {"ticker": "ZZZZ"})

    assert result.error == (
        "no data: the market-data API has no data for this request "
        "(HTTP 404: No data found for ticker ZZZZ)"
    )


async def test_a_slow_api_times_out_into_an_envelope(market_data_server: MarketDataServer) -> None:
    market_data_server.fail("/prices/snapshot/", status=None, delay=3.0)
    client, registry = registry_for(market_data_server.url, market_data_server.api_key, timeout=0.2)
    async with client:
        started = asyncio.get_running_loop().time()
        result = await registry.execute("get_price_snapshot", {"ticker": "AAPL"})
        elapsed = asyncio.get_running_loop().time() - started

    assert result.error == "no data: the market-data API did not answer within 0.2 s"
    assert elapsed < 2.5  # well before the server's 3 s answer


async def test_a_tool_that_overruns_its_own_timeout_is_cut_off(
    market_data_server: MarketDataServer,
) -> None:
    market_data_server.fail("/news/", status=None, delay=1.0)
    client, registry = registry_for(
        market_data_server.url, market_data_server.api_key, timeout=5.0, tool_timeout=0.2
    )
    async with client:
        result = await registry.execute("get_company_news", {"ticker": "AAPL"})

    assert result.error == (
        "no data: news · AAPL took longer than 0.2 s; try again later or ask for less data"
    )


async def test_a_body_that_is_not_json_becomes_an_envelope(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    market_data_server.fail("/analyst-estimates/", status=200, body="<html>maintenance</html>")

    result = await registry.execute("get_analyst_estimates", {"ticker": "AAPL"})

    assert result.error == (
        "no data: the market-data API sent a response that is not JSON (HTTP 200, text/html; "
        "charset=utf-8)"
    )


async def test_an_unreachable_api_becomes_an_envelope() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client, registry = registry_for(f"http://127.0.0.1:{closed_port}", "any-key")
    async with client:
        result = await registry.execute("get_price_snapshot", {"ticker": "AAPL"})

    assert result.error == "no data: the market-data API could not be reached (ConnectError)"


async def test_without_a_key_no_request_is_made(market_data_server: MarketDataServer) -> None:
    client, registry = registry_for(market_data_server.url, None)
    async with client:
        result = await registry.execute("get_price_snapshot", {"ticker": "AAPL"})

    assert result.error == (
        "no data: no Financial Datasets API key is configured (FINANCIAL_DATASETS_API_KEY)"
    )
    assert market_data_server.requests == []


async def test_an_empty_answer_is_no_data_rather_than_an_empty_list(
    registry: ToolRegistry,
) -> None:
    result = await registry.execute(
        "get_income_statements", {"ticker": "AAPL", "report_period_gte": "2030-01-01"}
    )

    assert result.error == (
        "no data: the API returned no income statements (annual) for AAPL with these parameters"
    )


# calls the model gets wrong --------------------------------------------------------------


async def test_an_unknown_tool_gives_an_error_envelope_naming_the_real_ones(
    registry: ToolRegistry,
) -> None:
    result = await registry.execute("get_stock_price", '{"ticker": "AAPL"}')

    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("no data: unknown tool 'get_stock_price'; the tools are ")
    assert "get_price_snapshot" in result.error
    assert result.arguments == {"ticker": "AAPL"}


async def test_bad_arguments_list_every_problem(
    registry: ToolRegistry, market_data_server: MarketDataServer
) -> None:
    result = await registry.execute(
        "get_prices",
        {"ticker": "AAPL", "start_date": "2024-13-01", "interval": "hourly", "adjusted": True},
    )

    assert result.error is not None
    assert result.error.startswith("no data: invalid arguments for get_prices: ")
    assert "start_date: Input should be a valid date" in result.error
    assert "(got '2024-13-01')" in result.error
    assert "end_date: Field required" in result.error
    assert "interval: Input should be 'day', 'week', 'month' or 'year' (got 'hourly')" in (
        result.error
    )
    assert "adjusted: not a parameter of get_prices" in result.error
    assert market_data_server.requests == []


async def test_inconsistent_arguments_are_explained(registry: ToolRegistry) -> None:
    prices = await registry.execute(
        "get_prices", {"ticker": "AAPL", "start_date": "2024-12-31", "end_date": "2024-01-01"}
    )
    items = await registry.execute(
        "get_filing_items", {"ticker": "AAPL", "filing_type": "10-Q", "year": 2024}
    )

    assert "start_date (2024-12-31) is after end_date (2024-01-01)" in (prices.error or "")
    assert "a 10-Q by year also needs its quarter" in (items.error or "")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ('{"ticker": "AAPL"', "the arguments are not valid JSON"),
        ('["AAPL"]', "the arguments must be a JSON object of named parameters"),
        ("", "ticker: Field required"),
    ],
)
async def test_arguments_that_are_not_an_object_are_rejected(
    registry: ToolRegistry, arguments: str, problem: str
) -> None:
    result = await registry.execute("get_price_snapshot", arguments)

    assert problem in (result.error or "")


async def test_arguments_with_quotes_escaped_by_a_local_model_server_are_read(
    registry: ToolRegistry,
) -> None:
    """llama-cpp-python's function-calling chat format hands back JSON whose quotes are
    HTML-escaped."""
    arguments = "{&#34;ticker&#34;: &#34;AAPL&#34;}"
    result = await registry.execute("get_price_snapshot", arguments)

    assert result.ok, result.error


# what the model reads --------------------------------------------------------------------


async def test_a_large_result_is_trimmed_to_the_budget_with_a_note(
    market_data_server: MarketDataServer,
) -> None:
    client, registry = registry_for(
        market_data_server.url, market_data_server.api_key, result_tokens=400
    )
    async with client:
        result = await registry.execute(
            "get_prices", {"ticker": "AAPL", "start_date": "2024-08-01", "end_date": "2024-12-31"}
        )

    assert result.ok and result.trimmed
    assert result.tokens <= 400
    shown = json.loads(result.model_text())
    assert shown["note"].startswith("trimmed to fit 400 tokens: dropped the fields ")
    assert "the longest had 106" in shown["note"]
    assert 1 < len(shown["data"]) < 106
    assert shown["data"][0]["time"].startswith("2024-08-01")
    assert "time_milliseconds" not in shown["data"][0]
    assert result.source is not None and shown["source"] == result.source.url
    assert len(result.data) == 106


async def test_long_filing_text_is_cut_to_fit(market_data_server: MarketDataServer) -> None:
    client, registry = registry_for(
        market_data_server.url, market_data_server.api_key, result_tokens=300
    )
    async with client:
        result = await registry.execute(
            "get_filing_items", {"ticker": "NVDA", "filing_type": "10-K", "year": 2024}
        )

    assert result.trimmed
    assert result.tokens <= 300
    assert "trimmed to fit 300 tokens" in result.model_text()


async def test_a_small_result_is_compact_json_with_its_source(registry: ToolRegistry) -> None:
    result = await registry.execute("get_price_snapshot", {"ticker": "JPM"})

    text = result.model_text()
    assert text.startswith('{"source":"http://127.0.0.1:')
    assert ", " not in text and ": " not in text
    assert json.loads(text)["data"]["price"] == 239.71
    assert result.tokens == count_tokens(text)


def test_schemas_are_strict_enough_for_function_calling(registry: ToolRegistry) -> None:
    for entry in registry.openai_tools():
        assert entry["type"] == "function"
        function = entry["function"]
        parameters = function["parameters"]
        assert len(function["description"]) > 60, function["name"]
        assert parameters["type"] == "object"
        assert parameters["additionalProperties"] is False
        assert "ticker" in parameters["required"]
        assert set(parameters["required"]) <= set(parameters["properties"])
        text = json.dumps(parameters)
        assert '"anyOf"' not in text and '"title"' not in text and '"$ref"' not in text
        for name, spec in parameters["properties"].items():
            assert spec.get("description"), f"{function['name']}.{name}"


def test_labels_and_tickers_for_progress_display(registry: ToolRegistry) -> None:
    good = registry.preview("get_income_statements", '{"ticker": "aapl"}')
    bad = registry.preview("get_prices", {"ticker": "msft"})
    unknown = registry.preview("get_everything", None)

    assert (good.label, good.ticker) == ("income statements · AAPL", "AAPL")
    assert (bad.label, bad.ticker) == ("get prices", "MSFT")
    assert (unknown.label, unknown.ticker) == ("get everything", None)


def test_the_catalog_has_one_line_per_tool(registry: ToolRegistry) -> None:
    lines = registry.catalog().splitlines()

    assert len(lines) == len(registry)
    assert lines[0].startswith("- get_income_statements: Income statements of a company")


# the key ---------------------------------------------------------------------------------


async def test_the_key_goes_in_the_header_and_nowhere_else(
    market_data_server: MarketDataServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = market_data_server.api_key
    caplog.set_level(logging.DEBUG)
    market_data_server.fail(
        "/news/", status=400, body=json.dumps({"message": f"bad request for key {secret}"})
    )
    client, registry = registry_for(market_data_server.url, market_data_server.api_key)
    async with client:
        results = [
            await registry.execute("get_income_statements", {"ticker": "AAPL"}),
            await registry.execute("get_company_news", {"ticker": "AAPL"}),
            await registry.execute("get_price_snapshot", {"ticker": "ZZZZ"}),
        ]

    assert [r.api_key for r in market_data_server.requests] == [secret] * 3
    assert all(secret not in str(r.query) for r in market_data_server.requests)
    assert results[1].error == (
        "no data: the market-data API rejected the request (HTTP 400: bad request for key ***)"
    )
    for result in results:
        assert secret not in result.model_text()
        assert secret not in repr(result)
        assert secret not in json.dumps(result.arguments)
        assert result.source is None or secret not in result.source.url
    assert caplog.records, "the calls should have been logged"
    assert secret not in caplog.text


async def test_concurrent_calls_share_one_client(registry: ToolRegistry) -> None:
    tickers = ["AAPL", "MSFT", "NVDA", "GOOGL", "AMZN", "TSLA", "JPM"]

    results = await asyncio.gather(
        *(registry.execute("get_price_snapshot", {"ticker": t}) for t in tickers)
    )

    assert [r.data["ticker"] for r in results] == tickers
