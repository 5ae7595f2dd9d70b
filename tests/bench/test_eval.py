"""The evaluation harness on the stand-ins: a fixed score, and scores that fall when answers
lose their figures or sources, or state one no tool returned.

The whole question set runs once (about 25 s) through the real agent, the real `openai`
SDK over HTTP to the model stand-in, and the market-data stand-in; scoring is the
harness's own. What breaks an answer on purpose is the model's reply (`script`) or what a
record holds, never our own code.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import pytest

from bench.eval.harness import company_names, evaluate
from bench.eval.questions import Item, load_items, select
from bench.eval.references import FixtureData, expected, expected_text
from bench.eval.report import mode_summaries
from bench.eval.runner import TurnRecord, rescored
from bench.eval.scoring import Scorer
from service.configs import research_config
from settings import load_settings
from standins.market_data import API_KEY as MARKET_DATA_KEY
from standins.market_data import FIXTURES, MarketDataServer
from standins.openai_server import API_KEY as MODEL_KEY
from standins.openai_server import OpenAIStandin, Reply

SCORER = Scorer(FixtureData(FIXTURES), company_names())
FIGURE_ITEMS = ("aapl-revenue-fy2023", "aapl-gross-margin-fy2023", "msft-pe", "nvda-revenue-trend")


def run(model: OpenAIStandin, data: MarketDataServer, items: Sequence[Item]) -> list[TurnRecord]:
    settings = load_settings(
        _env_file=None,
        openai_api_key=MODEL_KEY,
        openai_base_url=model.url,
        financial_datasets_api_key=MARKET_DATA_KEY,
        financial_datasets_base_url=data.url,
        dexter_model="standin",
    )
    return asyncio.run(evaluate(research_config(settings), items, SCORER))


@pytest.fixture(scope="module")
def whole_run(
    openai_server: OpenAIStandin, market_data_server_session: MarketDataServer
) -> list[TurnRecord]:
    openai_server.reset()
    market_data_server_session.reset()
    return run(openai_server, market_data_server_session, load_items())


def test_the_question_set_covers_every_tool_and_shape_with_enough_threads() -> None:
    items = load_items()
    tags = {tag for item in items for tag in item.tags}
    tools = {ref.tool for item in items for turn in item.turns for ref in turn.expect.refs}

    assert len(items) >= 60
    assert sum(item.is_thread and 3 <= len(item.turns) <= 6 for item in items) >= 15
    assert {"figure", "comparison", "trend", "ratio", "unavailable", "unknown_ticker"} <= tags
    assert len(tools) == 13  # every market-data tool the agent has


def test_every_reference_resolves_in_the_fixtures() -> None:
    data = FixtureData(FIXTURES)
    for item in load_items():
        for turn in item.turns:
            for figure in turn.expect.figures:
                assert expected(figure, data) is not None, (item.id, str(figure))
            for ref in turn.expect.texts:
                assert expected_text(ref, data), (item.id, str(ref))


def test_the_stand_in_run_scores_as_expected(whole_run: list[TurnRecord]) -> None:
    modes = mode_summaries(whole_run)

    assert (modes["single"].turns, modes["single"].correct) == (45, 45)
    assert (modes["full"].turns, modes["full"].correct) == (55, 55)
    assert (modes["selection"].turns, modes["selection"].correct) == (55, 55)
    assert (modes["none"].turns, modes["none"].correct) == (55, 19)
    assert not any(record.score.invented for record in whole_run)
    assert all(record.model_calls >= 4 for record in whole_run if record.calls)


def test_selection_sends_less_history_than_full_and_beats_no_history(
    whole_run: list[TurnRecord],
) -> None:
    modes = mode_summaries(whole_run)

    assert 0 < modes["selection"].history_tokens < modes["full"].history_tokens
    assert modes["none"].history_tokens == 0
    assert modes["selection"].score > modes["none"].score
    assert modes["selection"].follow_up_accuracy > modes["none"].follow_up_accuracy


def test_answers_that_lose_their_figures_fail(
    model: OpenAIStandin, market_data_server: MarketDataServer
) -> None:
    items = select(load_items(), only=FIGURE_ITEMS)
    model.script(
        "answer",
        *[Reply(content="Here is what the data shows: it did well that year.")] * len(items),
    )

    records = run(model, market_data_server, items)

    assert [r.score.correct for r in records] == [False] * len(items)
    for record in records:
        failed = [c.name for c in record.score.checks if not c.passed]
        assert any(name.startswith("figure ") for name in failed), record.item


def test_answers_that_lose_their_sources_fail(whole_run: list[TurnRecord]) -> None:
    items = select(load_items(), only=FIGURE_ITEMS)
    kept = [r for r in whole_run if r.item in FIGURE_ITEMS]
    assert all(r.score.correct for r in kept)

    unsourced = rescored([dataclasses.replace(r, source_urls=()) for r in kept], SCORER, items)

    assert not any(r.score.correct for r in unsourced)
    assert all("sources" in [c.name for c in r.score.checks if not c.passed] for r in unsourced)


def test_a_figure_no_tool_returned_is_flagged_as_invented(
    model: OpenAIStandin, market_data_server: MarketDataServer
) -> None:
    (item,) = select(load_items(), only=["aapl-revenue-fy2023"])
    model.script(
        "answer",
        Reply(content="Apple (AAPL) revenue was $383.29 billion in FY2023, up from $1.54 billion."),
    )

    (record,) = run(model, market_data_server, [item])

    assert record.score.invented == ("$1.54 billion",)
    assert not record.score.correct
