"""Slack's AI-app threads: titled after the first answer, follow-up prompts about what was
just researched, and prompts seeded by the channel the person is viewing."""

from __future__ import annotations

from typing import Any

from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, USER, mention, message, next_ts
from tests.bot.observe import answers, wait_until

DM = "D0DM"


def assistant_event(kind: str, thread_ts: str, viewing: str | None) -> dict[str, Any]:
    context = {"channel_id": viewing, "team_id": TEAM_ID} if viewing else {}
    return {
        "type": kind,
        "assistant_thread": {
            "user_id": USER,
            "channel_id": DM,
            "thread_ts": thread_ts,
            "context": context,
        },
        "event_ts": next_ts(),
    }


async def test_an_assistant_thread_is_titled_once_and_offered_follow_ups(start_dexter) -> None:
    dexter = await start_dexter(dexter_streaming=True)
    first = message("What was AAPL's revenue in 2023?", channel=DM, channel_type="im")

    await dexter.send.event(first)
    await wait_until(lambda: dexter.slack.calls("assistant.threads.setSuggestedPrompts"), within=30)

    (title,) = dexter.slack.calls("assistant.threads.setTitle")
    assert (title.params["channel_id"], title.params["thread_ts"]) == (DM, first["ts"])
    assert "AAPL's revenue in 2023" in title.params["title"]
    (offer,) = dexter.slack.calls("assistant.threads.setSuggestedPrompts")
    messages = [prompt["message"] for prompt in offer.params["prompts"]]
    assert len(messages) == 3 and all("AAPL" in text for text in messages)

    follow_up = message("And in 2022?", channel=DM, channel_type="im", thread_ts=first["ts"])
    await dexter.send.event(follow_up)
    await wait_until(
        lambda: len(dexter.slack.calls("assistant.threads.setSuggestedPrompts")) == 2, within=30
    )
    assert len(dexter.slack.calls("assistant.threads.setTitle")) == 1  # titled once
    assert len(answers(dexter.slack, first["ts"], channel=DM)) == 2


async def test_a_channel_question_sets_no_assistant_title(start_dexter) -> None:
    dexter = await start_dexter(dexter_streaming=True)
    question = mention("What was AAPL's revenue in 2023?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    assert dexter.slack.calls("assistant.threads.setTitle") == []
    assert dexter.slack.calls("assistant.threads.setSuggestedPrompts") == []


async def test_a_new_assistant_thread_picks_up_the_viewed_channels_research(
    start_dexter,
) -> None:
    dexter = await start_dexter()
    asked = mention("How did NVDA's margins change since 2021?")
    await dexter.send.event(asked)
    await wait_until(lambda: answers(dexter.slack, asked["ts"]), within=30)
    thread_ts = next_ts()

    await dexter.send.event(assistant_event("assistant_thread_started", thread_ts, CHANNEL))

    offer = await dexter.slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert offer.params["thread_ts"] == thread_ts
    assert offer.params["prompts"][0]["message"] == "How did NVDA's margins change since 2021?"
    assert len(offer.params["prompts"]) <= 4


async def test_moving_to_a_channel_without_research_offers_the_starters(start_dexter) -> None:
    dexter = await start_dexter()

    for viewing in ("C0EMPTY", None, "D0SOMEONE"):
        dexter.slack.reset()
        event = assistant_event("assistant_thread_context_changed", next_ts(), viewing)
        await dexter.send.event(event)
        offer = await dexter.slack.wait_for("assistant.threads.setSuggestedPrompts")
        assert offer.params["title"] == "Try asking"
        assert "Apple" in offer.params["prompts"][0]["message"]
