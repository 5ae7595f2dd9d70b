"""The Stop button: it cancels the research, keeps nothing, and says it was stopped."""

from __future__ import annotations

import json

import pytest

from bot.blocks import ACTION_RETRY, ACTION_STOP
from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, mention
from tests.bot.observe import answers, wait_until


def stop_value(slack) -> str:
    for message in slack.messages(CHANNEL):
        for block in message.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("action_id") == ACTION_STOP:
                    return str(element["value"])
    raise AssertionError("no Stop button in the channel")


def has_stop_button(slack) -> bool:
    return ACTION_STOP in json.dumps(slack.messages(CHANNEL))


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "status message"])
async def test_stop_cancels_the_answer_and_keeps_nothing(start_dexter, model, streaming) -> None:
    model.latency = 1.0  # every model call: the research takes several seconds
    dexter = await start_dexter(dexter_streaming=streaming)
    question = mention("What was Apple's revenue in 2023?")
    await dexter.send.event(question)
    await wait_until(lambda: has_stop_button(dexter.slack), within=30)

    await dexter.send.click(ACTION_STOP, stop_value(dexter.slack), thread_ts=question["ts"])

    await dexter.runtime.slack.answerer.drain()
    shown = json.dumps(dexter.slack.messages(CHANNEL))
    assert "Stopped. Nothing of this answer was kept." in shown and ACTION_RETRY in shown
    assert not has_stop_button(dexter.slack)  # the button went with the research
    assert answers(dexter.slack, question["ts"]) == []
    session_id = f"slack:{TEAM_ID}:{CHANNEL}:{question['ts']}"
    assert len(await dexter.remembered.load(session_id)) == 0
    assert dexter.slack.calls("response_url") == []  # no "already finished" note


async def test_stop_after_the_answer_says_it_already_finished(start_dexter) -> None:
    dexter = await start_dexter()
    question = mention("What was Apple's revenue in 2023?")
    await dexter.send.event(question)
    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    await dexter.runtime.slack.answerer.drain()

    key = f"slack-message:{TEAM_ID}:{CHANNEL}:{question['ts']}"
    await dexter.send.click(ACTION_STOP, key, thread_ts=question["ts"])

    note = await dexter.slack.wait_for("response_url")
    assert "already finished" in note.params["text"]
    assert len(answers(dexter.slack, question["ts"])) == 1
