"""Each execute call offers the tools its tasks need, not all thirteen (issue 13, item 8).

The schemas of every tool are ~3,800 prompt tokens: most of a small server's context and
of its time. The planner names a task's tools and the task's words call for more; only a
task that calls for none (an unclear plan) gets every tool.
"""

from __future__ import annotations

import json

import pytest

from agent.tokens import count_tokens
from agent.tools import ToolRegistry
from standins.openai_server import Reply

QUESTION = "What was Apple's revenue in 2023?"


def plan_of(*tasks: dict[str, object]) -> Reply:
    return Reply(content=json.dumps({"tasks": [{"id": f"t{n}", **t} for n, t in enumerate(tasks)]}))


def offered(request) -> set[str]:
    return {tool["function"]["name"] for tool in request.body["tools"]}


def prompt_tokens(request, tools: list[dict[str, object]]) -> int:
    """What the request costs with `tools`: its messages and schemas, as the model reads them."""
    return count_tokens(json.dumps(request.messages)) + count_tokens(json.dumps(tools))


@pytest.fixture
def registry(make_agent) -> ToolRegistry:
    return make_agent().agent.tools


@pytest.mark.parametrize(
    ("task", "tools"),
    [
        ("Get income statements for AAPL, FY2021-FY2023", {"get_income_statements"}),
        ("Latest 10-K risk factors of MSFT", {"get_filings", "get_filing_items"}),
        ("Insider selling at NVDA this year", {"get_insider_trades"}),
        ("Analyst consensus for next year", {"get_analyst_estimates"}),
        ("Revenue by segment of AMZN", {"get_income_statements", "get_segmented_revenues"}),
        ("call get_company_news for TSLA", {"get_company_news"}),
    ],
)
def test_a_task_calls_for_tools_by_topic_or_name(registry, task, tools) -> None:
    assert set(registry.matching(task)) == tools


async def test_the_execute_call_offers_only_what_the_planned_tasks_call_for(
    make_agent, model
) -> None:
    model.script(
        "plan",
        plan_of(
            {"description": "Income statements of AAPL for FY2023"},
            {"description": "Look at AAPL's trading", "tools": "get_price_snapshot"},
            {"description": "Anything else about AAPL", "tools": ["get_insider_trades", "nope"]},
        ),
    )
    parts = make_agent()

    result = await parts.agent.run(QUESTION)

    (execute,) = model.requests("execute")
    assert offered(execute) == {
        "get_income_statements",
        "get_price_snapshot",
        "get_insider_trades",
    }
    every_tool = parts.agent.tools.openai_tools()
    assert prompt_tokens(execute, execute.body["tools"]) < prompt_tokens(execute, every_tool) / 2
    assert any("income-statements" in source.url for source in result.sources)


async def test_a_task_that_calls_for_no_tool_gets_every_tool(make_agent, model) -> None:
    model.script(
        "plan",
        plan_of(
            {"description": "Income statements of AAPL for FY2023"},
            {"description": "Look into how Apple is doing", "tools": ["no_such_tool"]},
        ),
    )
    parts = make_agent()

    await parts.agent.run(QUESTION)

    (execute,) = model.requests("execute")
    assert offered(execute) == set(parts.agent.tools.names)


async def test_the_retry_of_a_rejected_call_offers_the_same_tools(make_agent, model) -> None:
    model.script("plan", plan_of({"description": "Income statements of AAPL"}))
    model.script(
        "execute",
        Reply(tool_calls=[("get_income_statements", {"ticker": "AAPL", "period": "yearly"})]),
    )

    await make_agent().agent.run(QUESTION)

    first, retry = model.requests("execute")
    assert offered(first) == offered(retry) == {"get_income_statements"}
