"""An answer is bounded by what a person will wait, and its cost counts every attempt
(issue 13, items 9 and 10).

The deadline (`DEXTER_ANSWER_DEADLINE`) bounds the whole answer; each model call's attempt
timeout and retries are cut to what is left of it, and the person hears when an answer
runs long. Usage counts the prompts of retried attempts and of replies a step discarded.
"""

from __future__ import annotations

import pytest

from agent import ModelError, RunTimeout
from agent.progress import Done, ErrorEvent, TakingLong
from standins.openai_server import Reply

QUESTION = "What was Apple's revenue in 2023?"
SLOW = 6.0
"""Seconds a scripted reply waits: past every deadline and attempt timeout of these tests,
so only those end the call; short of the stand-in's 10 s to stop at the session's end."""


async def test_an_answer_past_its_deadline_stops_with_a_timeout_that_says_so(
    make_agent, model
) -> None:
    model.script("plan", Reply(content="{}", delay=SLOW))
    events: list[object] = []
    agent = make_agent(dexter_answer_deadline=2.0, dexter_model_timeout=60).agent

    with pytest.raises(RunTimeout) as stopped:
        await agent.run(QUESTION, on_progress=events.append)

    assert isinstance(events[-1], ErrorEvent) and events[-1].kind == "timeout"
    assert "2 seconds" in stopped.value.advice and "try again" in stopped.value.advice
    assert len(model.requests("plan")) == 1


async def test_no_retry_is_started_that_the_deadline_leaves_no_time_for(make_agent, model) -> None:
    """Two-second attempts in a three-second answer: a retry could not finish, so none is
    sent to keep the server busy after the person was told."""
    model.script("understand", *[Reply(content="{}", delay=SLOW)] * 4)
    agent = make_agent(
        dexter_answer_deadline=3.0, dexter_model_timeout=2.0, dexter_model_retries=3
    ).agent

    with pytest.raises(ModelError, match="timed out"):
        await agent.run(QUESTION)

    assert len(model.requests("understand")) == 1


async def test_retries_that_fit_the_deadline_are_kept(make_agent, model) -> None:
    model.script("plan", Reply(status=500), Reply(status=503))

    result = await make_agent(dexter_model_retries=2, dexter_answer_deadline=60).agent.run(QUESTION)

    assert len(model.requests("plan")) == 3
    assert result.answer


async def test_a_slow_answer_tells_the_person_once_before_it_ends(make_agent, model) -> None:
    model.script("understand", Reply(content='{"intent": "x", "resolved_query": "y"}', delay=2))
    events: list[object] = []
    agent = make_agent(dexter_slow_notice=0.2, dexter_answer_deadline=60).agent

    await agent.run(QUESTION, on_progress=events.append)

    (notice,) = [e for e in events if isinstance(e, TakingLong)]
    assert (notice.seconds, notice.deadline) == (0.2, 60)
    assert events.index(notice) < len(events) - 1 and isinstance(events[-1], Done)


async def test_a_quick_answer_says_nothing_of_delay(make_agent, model) -> None:
    events: list[object] = []

    await make_agent().agent.run(QUESTION, on_progress=events.append)

    assert not any(isinstance(e, TakingLong) for e in events)


async def test_retried_attempts_count_in_the_tokens(make_agent, model) -> None:
    agent = make_agent(dexter_model_retries=1).agent
    clean = await agent.run(QUESTION)
    model.script("plan", Reply(status=500))

    retried = await agent.run(QUESTION)

    assert len(model.requests("plan")) == 3  # one clean, then a 500 and its retry
    assert retried.usage["plan"].completion_tokens == clean.usage["plan"].completion_tokens
    assert retried.usage["plan"].prompt_tokens > clean.usage["plan"].prompt_tokens
    assert retried.total_tokens > clean.total_tokens


async def test_replies_a_step_discarded_still_count_in_the_tokens(make_agent, model) -> None:
    model.script("understand", Reply(content="no idea"), Reply(content="still no idea"))

    result = await make_agent().agent.run(QUESTION)

    assert result.understanding.resolved_query.startswith(QUESTION)  # the fallback
    assert result.usage["understand"].prompt_tokens > 0


async def test_short_of_time_the_data_gathered_is_answered_without_another_round(
    make_agent, model
) -> None:
    """After a slow execute step, what is left of the deadline goes to the answer: a
    reflection could outlast it and lose the data already fetched."""
    model.script(
        "execute",
        Reply(
            tool_calls=[("get_income_statements", {"ticker": "AAPL", "period": "annual"})],
            delay=6.5,
        ),
    )
    agent = make_agent(dexter_answer_deadline=10, dexter_model_timeout=60).agent

    result = await agent.run(QUESTION)

    assert model.requests("reflect") == []
    assert any("income-statements" in source.url for source in result.sources)
