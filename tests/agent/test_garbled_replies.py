"""A weak model's garbled replies never reach the person as a plan (issue 13, item 6).

The model stand-in is scripted with the kind of replies a small local model gives: a
timestamp for the question, an id or a placeholder for a task, one task over and over.
"""

from __future__ import annotations

import json

import pytest

from agent.progress import PlanReady
from agent.prompts import Reflection, UnderstandingReply, reads_as_words
from standins.openai_server import Reply

QUESTION = "What was Apple's revenue in 2023?"
TIMESTAMP = "2024-12-31 15:28:59"


def understanding(resolved: str, intent: str = "Apple's revenue") -> Reply:
    return Reply(
        content=json.dumps(
            {"intent": intent, "resolved_query": resolved, "tickers": ["AAPL"], "periods": []}
        )
    )


def tasks(*descriptions: str) -> Reply:
    return Reply(
        content=json.dumps(
            {"tasks": [{"id": f"t{n}", "description": d} for n, d in enumerate(descriptions, 1)]}
        )
    )


def planned(events: list[object]) -> list[str]:
    (plan,) = [e for e in events if isinstance(e, PlanReady)]
    return [task.description for task in plan.tasks]


@pytest.mark.parametrize(
    "text",
    [TIMESTAMP, "", "   ", "t1", "str", "…", "$383.3B", "AAPL AAPL AAPL AAPL AAPL AAPL AAPL"],
)
def test_what_is_not_words_is_recognised(text: str) -> None:
    assert not reads_as_words(text)


@pytest.mark.parametrize(
    "text",
    [
        "Get income statements for AAPL",
        "Revenue FY2023 vs FY2022: $383.3B vs $394.3B",
        "Compare Apple's and Microsoft's gross margin since 2021",
        "Wie hoch war der Umsatz von Apple?",
    ],
)
def test_plain_requests_read_as_words(text: str) -> None:
    assert reads_as_words(text)


async def test_a_timestamp_for_the_question_is_refused_and_the_plan_uses_the_question(
    make_agent, model
) -> None:
    model.script("understand", understanding(TIMESTAMP), understanding(TIMESTAMP))
    model.script("plan", Reply(content="{}"), Reply(content="{}"))
    events: list[object] = []

    result = await make_agent().agent.run(QUESTION, on_progress=events.append)

    retry = model.requests("understand")[1]
    assert "resolved_query" in retry.messages[-1]["content"]  # the model was told why
    assert result.understanding.resolved_query == QUESTION
    assert planned(events) == [QUESTION]
    assert TIMESTAMP not in model.requests("plan")[0].text


async def test_garbled_and_repeated_tasks_are_dropped_from_the_plan(make_agent, model) -> None:
    model.script(
        "plan",
        tasks(
            TIMESTAMP,
            "Get income statements for AAPL",
            "t3",
            "get income statements  for AAPL",
            "Get key metrics for AAPL",
        ),
    )
    events: list[object] = []

    await make_agent().agent.run(QUESTION, on_progress=events.append)

    assert planned(events) == ["Get income statements for AAPL", "Get key metrics for AAPL"]
    assert len(model.requests("plan")) == 1  # a usable plan needs no second call


async def test_a_plan_of_nothing_but_garbage_falls_back_to_the_understood_question(
    make_agent, model
) -> None:
    junk = tasks(TIMESTAMP, TIMESTAMP, "str")
    model.script("plan", junk, junk)
    events: list[object] = []

    result = await make_agent().agent.run(QUESTION, on_progress=events.append)

    assert planned(events) == [result.understanding.resolved_query]
    assert result.answer


def test_a_garbled_intent_quietly_becomes_the_question() -> None:
    reply = UnderstandingReply.model_validate(
        {"intent": TIMESTAMP, "resolved_query": QUESTION, "tickers": ["aapl", "2023", "N/A"]}
    )

    assert reply.intent == QUESTION
    assert reply.tickers == ["AAPL"]


def test_reflection_asking_for_nothing_in_words_asks_for_nothing() -> None:
    verdict = Reflection.model_validate({"sufficient": False, "missing": [TIMESTAMP, "", "..."]})

    assert verdict.missing == []


async def test_a_raw_line_break_inside_a_json_string_is_read_not_refused(make_agent, model) -> None:
    model.script(
        "understand",
        Reply(content='{"intent": "Apple revenue", "resolved_query": "Apple\'s revenue\nin 2023"}'),
    )

    result = await make_agent().agent.run(QUESTION)

    assert result.understanding.resolved_query == "Apple's revenue in 2023"
    assert len(model.requests("understand")) == 1
