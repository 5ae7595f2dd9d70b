"""The status message: what a thread is told while an answer is researched.

Edits are throttled, so which intermediate state reaches Slack depends on timing; these
tests check what each state reads like, the end-to-end tests what is promised (the answer
takes the status message's place).
"""

from __future__ import annotations

from agent.progress import (
    AnswerToken,
    PhaseStarted,
    PlanReady,
    ToolFinished,
    ToolStarted,
)
from agent.prompts import Task
from bot.status_message import ResearchStatus, status_text


def researched(*events) -> ResearchStatus:
    status = ResearchStatus("What was Apple's revenue in 2023?")
    for event in events:
        status.apply(event)
    return status


def test_the_status_shows_the_plan_and_each_data_call_with_its_outcome() -> None:
    status = researched(
        PhaseStarted(phase="planning"),
        PlanReady(iteration=1, tasks=[Task(id="t1", description="Income statement")]),
        PhaseStarted(phase="executing"),
        ToolStarted(call_id="a", tool="income", label="income statements · AAPL", ticker="AAPL"),
        ToolStarted(call_id="b", tool="news", label="news · AAPL", ticker="AAPL"),
        ToolFinished(
            call_id="a", tool="income", label="income statements · AAPL", ok=True, seconds=0.1
        ),
        ToolFinished(call_id="b", tool="news", label="news · AAPL", ok=False, seconds=0.1),
    )

    text = status_text(status)

    assert "What was Apple's revenue in 2023?" in text
    assert "1. Income statement" in text
    assert ":white_check_mark: income statements · AAPL" in text
    assert ":x: news · AAPL (no data)" in text
    assert text.endswith("_Gathering market data…_")


def test_a_call_in_flight_shows_an_hourglass() -> None:
    status = researched(
        ToolStarted(call_id="a", tool="income", label="income statements · AAPL", ticker="AAPL")
    )

    assert ":hourglass_flowing_sand: income statements · AAPL" in status_text(status)


def test_once_the_answer_streams_the_status_is_the_answer_so_far() -> None:
    status = researched(
        PhaseStarted(phase="answering"), AnswerToken(text="Apple's revenue was **$383.3B**.")
    )

    text = status_text(status)

    assert text.startswith("Apple's revenue was *$383.3B*.")
    assert "still writing" in text
