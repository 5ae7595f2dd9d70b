"""A slow answer in Slack: the person is told it is taking long, and at the deadline hears
back in the thread with what happened and Try again (issue 13, item 10)."""

from __future__ import annotations

import json

from bot.answer_stream import SLOW_TASK
from bot.blocks import ACTION_RETRY
from standins.openai_server import Reply
from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, mention
from tests.bot.observe import answers, wait_until

SESSION_PREFIX = f"slack:{TEAM_ID}:{CHANNEL}:"
HELD = 3.0
"""Seconds the model holds its first reply: well past the notice these tests ask for."""
UNDERSTOOD = json.dumps({"intent": "Apple's revenue", "resolved_query": "Apple revenue in 2023"})


def apologised(call) -> bool:
    return "Reference" in json.dumps(call.params.get("blocks") or [])


async def test_at_the_deadline_the_thread_hears_why_with_try_again(start_dexter, model) -> None:
    dexter = await start_dexter(dexter_answer_deadline=2, dexter_model_timeout=60)
    model.script("plan", Reply(content="{}", delay=6))
    question = mention("What was Apple's revenue in 2023?")

    await dexter.send.event(question)

    apology = await dexter.slack.wait_for("chat.update", apologised, timeout=30)
    text = json.dumps(apology.params["blocks"])
    assert "longer than the 2 seconds I give an answer" in text and "try again" in text
    assert ACTION_RETRY in text
    assert len(await dexter.remembered.load(SESSION_PREFIX + question["ts"])) == 0


async def test_a_slow_answer_says_so_in_its_status_then_lands(start_dexter, model) -> None:
    dexter = await start_dexter(dexter_slow_notice=0.2, dexter_answer_deadline=60)
    model.script("understand", Reply(content=UNDERSTOOD, delay=HELD))
    question = mention("What was Apple's revenue in 2023?")

    await dexter.send.event(question)

    await wait_until(
        lambda: any(
            "taking longer than usual" in c.params["text"] and "60 seconds" in c.params["text"]
            for c in dexter.slack.calls("chat.update")
        ),
        within=30,
    )
    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)


async def test_a_slow_streamed_answer_adds_a_note_to_its_plan(start_dexter, model) -> None:
    dexter = await start_dexter(
        dexter_streaming=True, dexter_slow_notice=0.2, dexter_answer_deadline=60
    )
    model.script("understand", Reply(content=UNDERSTOOD, delay=HELD))
    question = mention("What was Apple's revenue in 2023?")

    await dexter.send.event(question)

    stop = await dexter.slack.wait_for("chat.stopStream", timeout=30)
    (last,) = [chunk for chunk in stop.params["chunks"] if chunk.get("id") == SLOW_TASK]
    assert last["title"] == "Taking longer than usual" and "60 seconds" in last["details"]
