"""A chart of the exact figures an answer rests on, uploaded into its thread."""

from __future__ import annotations

import io
import json

import httpx
from PIL import Image

from standins.market_data import API_KEY
from standins.slack_events import CHANNEL, mention
from tests.bot.observe import answers, wait_until


async def returned_rows(market_data_server, path: str, key: str) -> list[dict]:
    """What the market-data API answered to the agent's call, asked again the same way."""
    (request,) = market_data_server.requests_to(path)
    params = {name: values[0] for name, values in request.query.items()}
    async with httpx.AsyncClient(base_url=market_data_server.url) as client:
        response = await client.get(path, params=params, headers={"X-API-KEY": API_KEY})
    return response.json()[key]


async def test_an_answer_on_a_series_gets_a_chart_of_its_figures(
    start_dexter, market_data_server
) -> None:
    market_data_server.reset()
    dexter = await start_dexter(dexter_charts=True)
    question = mention("How has AAPL's revenue changed over the last quarters?")

    await dexter.send.event(question)

    await wait_until(lambda: dexter.slack.files(), within=30)
    assert answers(dexter.slack, question["ts"])
    (chart,) = dexter.slack.files()
    assert (chart["channel"], chart["thread_ts"]) == (CHANNEL, question["ts"])
    assert chart["title"].startswith("AAPL Revenue (USD billions), ")
    image = Image.open(io.BytesIO(chart["content"]))
    assert image.format == "PNG" and image.size == (800, 450)
    drawn = json.loads(image.info["Description"])
    rows = await returned_rows(
        market_data_server, "/financials/income-statements/", "income_statements"
    )
    expected = [
        [row["fiscal_period"], row["revenue"] / 1e9]
        for row in sorted(rows, key=lambda row: row["report_period"])
    ]
    assert drawn["points"] == expected
    assert f"{expected[0][0]}: {expected[0][1]:,.2f}" in chart["alt_txt"]


async def test_charts_can_be_turned_off(start_dexter, market_data_server) -> None:
    dexter = await start_dexter(dexter_charts=False)
    question = mention("How has AAPL's revenue changed over the last quarters?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    await dexter.runtime.slack.answerer.drain()
    assert dexter.slack.files() == []
    assert dexter.slack.calls("files.getUploadURLExternal") == []


async def test_a_single_figure_gets_no_chart(start_dexter) -> None:
    dexter = await start_dexter(dexter_charts=True)
    question = mention("What is AAPL's price right now?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    await dexter.runtime.slack.answerer.drain()
    assert dexter.slack.files() == []
