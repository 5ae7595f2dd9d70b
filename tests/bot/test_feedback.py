"""👍 / 👎 under each answer: kept with the turn, shown in /dexter-history, counted."""

from __future__ import annotations

import json
import logging

import pytest

from bot.blocks import ACTION_FEEDBACK
from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, mention
from tests.bot.observe import answers, wait_until


def feedback_values(slack, thread_ts: str) -> dict[str, str]:
    """The rating → button value of the answer's feedback element(s), as Slack shows them."""
    (answer,) = answers(slack, thread_ts)
    values = {}
    for block in answer["blocks"]:
        for element in block.get("elements") or []:
            if element.get("type") == "feedback_buttons":
                values["good"] = element["positive_button"]["value"]
                values["bad"] = element["negative_button"]["value"]
            elif str(element.get("action_id")).startswith(ACTION_FEEDBACK):
                values[element["action_id"].rsplit("_", 1)[1]] = element["value"]
    return values


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "status message"])
async def test_a_rating_is_kept_with_the_turn_and_shown_in_history(
    start_dexter, caplog, streaming: bool
) -> None:
    caplog.set_level(logging.INFO, logger="bot.actions.feedback")
    dexter = await start_dexter(dexter_streaming=streaming)
    question = mention("What was Apple's revenue in 2023?")
    await dexter.send.event(question)
    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    values = feedback_values(dexter.slack, question["ts"])
    assert set(values) == {"good", "bad"}

    await dexter.send.click(ACTION_FEEDBACK, values["bad"], thread_ts=question["ts"])
    await wait_until(lambda: dexter.slack.calls("response_url"))
    await dexter.send.click(ACTION_FEEDBACK, values["good"], thread_ts=question["ts"])
    await wait_until(lambda: len(dexter.slack.calls("response_url")) == 2)

    session_id = f"slack:{TEAM_ID}:{CHANNEL}:{question['ts']}"
    (turn,) = (await dexter.remembered.load(session_id)).turns
    assert turn.feedback == "good"  # the latest rating counts
    assert "feedback good on" in caplog.text
    link = f"https://example.slack.com/archives/{CHANNEL}/p{question['ts'].replace('.', '')}"
    await dexter.send.command("/dexter-history", link)
    await wait_until(lambda: len(dexter.slack.calls("response_url")) == 3)
    page = dexter.slack.calls("response_url")[-1].params
    assert "rated 👍" in json.dumps(page["blocks"], ensure_ascii=False)


async def test_a_rating_for_another_channels_thread_is_refused(start_dexter) -> None:
    dexter = await start_dexter()
    question = mention("What was Apple's revenue in 2023?")
    await dexter.send.event(question)
    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    values = feedback_values(dexter.slack, question["ts"])

    await dexter.send.click(ACTION_FEEDBACK, values["good"], channel="C0ELSEWHERE")
    await dexter.send.click(ACTION_FEEDBACK, "good|1|not-a-session", thread_ts=question["ts"])
    await dexter.runtime.slack.answerer.drain()

    session_id = f"slack:{TEAM_ID}:{CHANNEL}:{question['ts']}"
    (turn,) = (await dexter.remembered.load(session_id)).turns
    assert turn.feedback is None
