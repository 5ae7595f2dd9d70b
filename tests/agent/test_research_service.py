"""The research service: the agent and the store on a loop of their own, used from this one."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from agent import ResearchService, log_context
from agent.factory import build_agent
from agent.progress import Done, PhaseStarted, ProgressEvent
from agent.research import NotStarted
from service.configs import research_config
from standins.openai_server import Reply
from stores import open_store

SESSION = "slack:T1:C1:1700000000.000100"


@pytest.fixture
async def research(make_settings: Callable[..., Any]) -> AsyncIterator[ResearchService]:
    config = research_config(make_settings(dexter_embeddings="lexical"))
    service = ResearchService(lambda: build_agent(config), lambda: open_store("memory://"))
    await service.start()
    yield service
    await service.close()


async def test_progress_reaches_the_callers_loop_in_order_before_the_answer_returns(
    research: ResearchService, model
) -> None:
    seen: list[tuple[ProgressEvent, threading.Thread]] = []

    async def on_progress(event: ProgressEvent) -> None:
        await asyncio.sleep(0)  # a slow front end must not reorder what it is shown
        seen.append((event, threading.current_thread()))

    result = await research.answer(
        "What was Apple's revenue in 2023?", session_id=SESSION, on_progress=on_progress
    )

    events = [event for event, _ in seen]
    assert {thread for _, thread in seen} == {threading.current_thread()}
    assert isinstance(events[0], PhaseStarted) and events[0].phase == "understanding"
    assert isinstance(events[-1], Done) and events[-1].seq == result.turn.seq == 1
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases.index("planning") < phases.index("executing") < phases.index("answering")


async def test_history_pages_and_erase_clears_what_answers_stored(
    research: ResearchService, model
) -> None:
    for question in ("Apple revenue 2023?", "And Microsoft's?", "Which grew faster?"):
        await research.answer(question, session_id=SESSION, user="U1")

    newest = await research.history(SESSION, limit=2)
    older = await research.history(SESSION, limit=2, before=newest.turns[-1].seq)

    assert [t.question for t in newest.turns] == ["Which grew faster?", "And Microsoft's?"]
    assert [t.question for t in older.turns] == ["Apple revenue 2023?"]
    assert newest.total == older.total == 3 and not older.has_older
    assert [s.session_id for s in await research.threads("slack:T1:C1", 10)] == [SESSION]
    assert await research.erase(SESSION) == 3
    assert (await research.history(SESSION, limit=5)).total == 0


async def test_erase_waits_for_the_answer_in_progress_and_erases_it_too(
    research: ResearchService, model
) -> None:
    model.script("answer", Reply(content="Apple (AAPL) earned $383.3B.", delay=0.5))
    answering = asyncio.Event()

    def on_progress(event: ProgressEvent) -> None:
        if isinstance(event, PhaseStarted) and event.phase == "answering":
            answering.set()

    answer = asyncio.create_task(
        research.answer("Apple revenue 2023?", session_id=SESSION, on_progress=on_progress)
    )
    await answering.wait()
    erased = await research.erase(SESSION)

    assert erased == 1  # the answer's turn, stored before the erase could begin
    assert (await answer).turn.seq == 1
    assert (await research.history(SESSION, limit=5)).total == 0


async def test_one_shot_answers_store_nothing(research: ResearchService, model) -> None:
    result = await research.answer("What was Apple's revenue in 2023?")

    assert result.turn is not None and result.turn.seq == 0
    assert await research.threads("slack:T1:C1", 10) == []


async def test_a_service_that_is_not_running_says_so(make_settings: Callable[..., Any]) -> None:
    config = research_config(make_settings())
    service = ResearchService(lambda: build_agent(config), lambda: open_store("memory://"))

    with pytest.raises(NotStarted):
        await service.history(SESSION, limit=5)
    await service.start()
    await service.close()
    with pytest.raises(NotStarted):
        await service.answer("Apple?", session_id=SESSION)


async def test_log_lines_on_the_research_loop_are_about_the_callers_session_and_event(
    research: ResearchService, model
) -> None:
    labels: list[tuple[str | None, str | None]] = []

    class Labels(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "plan step fell back" in record.getMessage():
                labels.append(log_context.current())

    handler = Labels()
    logging.getLogger("agent").addHandler(handler)
    model.script("plan", Reply(content="not json"), Reply(content="still not json"))
    try:
        log_context.about(SESSION, "slack-message:T1:C1:1700000000.000100")
        await research.answer("Apple revenue 2023?", session_id=SESSION)
    finally:
        logging.getLogger("agent").removeHandler(handler)

    assert labels == [(log_context.session_hash(SESSION), "slack-message:T1:C1:1700000000.000100")]
