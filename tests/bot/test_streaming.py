"""Answers streamed with their research plan (`chat.startStream` and friends), and every way
a stream can fail ending in a finished message."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import ACTION_RETRY
from standins.openai_server import Reply
from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, USER, mention, message
from tests.bot.observe import answers, wait_until

SESSION_PREFIX = f"slack:{TEAM_ID}:{CHANNEL}:"


def streamed(slack: Any, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(CHANNEL) if m.get("thread_ts") == thread_ts and "stream" in m]


async def test_an_answer_streams_with_its_plan_then_the_text_and_sources(start_dexter) -> None:
    dexter = await start_dexter(dexter_streaming=True)
    question = mention("What was Apple's revenue in 2023?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    await dexter.runtime.slack.answerer.drain()  # the Stop button's message goes last
    (start,) = dexter.slack.calls("chat.startStream")
    assert start.params["recipient_user_id"] == USER
    assert start.params["recipient_team_id"] == TEAM_ID
    assert start.params["task_display_mode"] == "plan"
    assert start.params["thread_ts"] == question["ts"]
    (reply,) = streamed(dexter.slack, question["ts"])
    assert reply["streaming_state"] == "completed"
    tasks = list(reply["stream"]["tasks"].values())
    titles = [task["title"] for task in tasks]
    assert titles[0] == "Reading the question"
    assert "Planning the research" in titles and "Writing the answer" in titles
    assert any("AAPL" in title for title in titles)  # a data call, named by what it fetched
    assert {task["status"] for task in tasks} == {"complete"}
    assert reply["stream"]["plan_title"].startswith("Researched: What was Apple")
    (turn,) = (await dexter.remembered.load(SESSION_PREFIX + question["ts"])).turns
    assert reply["text"] == turn.answer  # the text streamed is the answer remembered
    assert "Sources" in json.dumps(reply["blocks"])
    thread = [m for m in dexter.slack.messages(CHANNEL) if m.get("thread_ts") == question["ts"]]
    assert thread == [reply]  # no status message; the Stop button's message went at the end
    assert dexter.slack.calls("chat.update") == []


async def test_task_updates_are_batched_into_few_appends(start_dexter, model) -> None:
    # one append as research begins; what follows until the stop waits for the next one
    dexter = await start_dexter(dexter_streaming=True, dexter_progress_interval=30)
    question = mention("How did Apple's and Microsoft's revenue compare in 2023?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    (reply,) = streamed(dexter.slack, question["ts"])
    calls = [
        *dexter.slack.calls("chat.startStream"),
        *dexter.slack.calls("chat.appendStream"),
        *dexter.slack.calls("chat.stopStream"),
    ]
    updates = sum(len(call.params.get("chunks") or []) for call in calls)
    assert len(calls) == reply["stream"]["calls"]
    assert len(calls) * 3 < updates  # many updates ride on each call


async def test_without_streaming_in_the_workspace_answers_edit_a_status_message(
    start_dexter,
) -> None:
    dexter = await start_dexter(dexter_streaming=True)
    dexter.slack.fail("chat.startStream", "unknown_method")
    first = mention("What was Apple's revenue in 2023?")
    second = mention("What was Nvidia's revenue in 2024?")

    for question in (first, second):
        await dexter.send.event(question)
        await wait_until(lambda q=question: answers(dexter.slack, q["ts"]), within=30)

    assert len(dexter.slack.calls("chat.startStream")) == 1  # not asked again
    assert len(dexter.slack.calls("chat.postMessage")) == 2  # a status message each
    assert streamed(dexter.slack, first["ts"]) == streamed(dexter.slack, second["ts"]) == []


async def test_a_stream_that_fails_to_start_once_falls_back_for_that_answer_only(
    start_dexter,
) -> None:
    dexter = await start_dexter(dexter_streaming=True)
    dexter.slack.fail("chat.startStream", "internal_error")
    first = mention("What was Apple's revenue in 2023?")
    second = mention("What was Nvidia's revenue in 2024?")

    for question in (first, second):
        await dexter.send.event(question)
        await wait_until(lambda q=question: answers(dexter.slack, q["ts"]), within=30)

    assert streamed(dexter.slack, first["ts"]) == []
    assert len(streamed(dexter.slack, second["ts"])) == 1


async def test_a_model_failure_mid_stream_stops_it_with_an_apology_and_try_again(
    start_dexter, model
) -> None:
    dexter = await start_dexter(dexter_streaming=True, dexter_model_retries=0)
    model.script("answer", Reply(status=500))
    question = mention("What was Apple's revenue in 2023?")
    dexter.slack.add_message(CHANNEL, question["text"], user=USER, ts=question["ts"])

    await dexter.send.event(question)

    stop = await dexter.slack.wait_for("chat.stopStream")
    (reply,) = streamed(dexter.slack, question["ts"])
    assert reply["streaming_state"] == "completed"
    shown = json.dumps(stop.params["blocks"])
    assert "Reference" in shown and ACTION_RETRY in shown
    assert reply["stream"]["plan_title"].startswith("Stopped: ")
    statuses = {task["status"] for task in reply["stream"]["tasks"].values()}
    assert "in_progress" not in statuses and "pending" not in statuses
    assert "error" in statuses  # the step that failed says so
    assert len(await dexter.remembered.load(SESSION_PREFIX + question["ts"])) == 0

    await dexter.send.click(ACTION_RETRY, question["ts"], thread_ts=question["ts"])

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    assert len(await dexter.remembered.load(SESSION_PREFIX + question["ts"])) == 1


async def test_an_append_slack_refuses_still_ends_in_the_whole_answer(start_dexter) -> None:
    dexter = await start_dexter(dexter_streaming=True)
    dexter.slack.fail("chat.appendStream", "message_not_in_streaming_state", times=50)
    question = mention("What was Apple's revenue in 2023?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    await dexter.runtime.slack.answerer.drain()
    (turn,) = (await dexter.remembered.load(SESSION_PREFIX + question["ts"])).turns
    (posted,) = answers(dexter.slack, question["ts"])  # one answer: below the stream
    assert "stream" not in posted
    assert "here is what the data shows" in turn.answer
    assert "here is what the data shows" in json.dumps(posted["blocks"])
    assert len(dexter.slack.calls("chat.appendStream")) == 1  # no more after the refusal
    (reply,) = streamed(dexter.slack, question["ts"])
    assert reply["streaming_state"] == "completed"  # stopped, not left open


async def test_a_refused_stop_posts_the_answer_as_a_message(start_dexter) -> None:
    dexter = await start_dexter(dexter_streaming=True)
    dexter.slack.fail("chat.stopStream", "internal_error")
    question = mention("What was Apple's revenue in 2023?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    posted = [
        c for c in dexter.slack.calls("chat.postMessage") if "Sources" in json.dumps(c.params)
    ]
    assert len(posted) == 1


async def test_a_direct_message_streams_to_its_sender(start_dexter) -> None:
    dexter = await start_dexter(dexter_streaming=True)
    question = message("What was Apple's revenue in 2023?", channel="D0DM", channel_type="im")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"], channel="D0DM"), within=30)
    (start,) = dexter.slack.calls("chat.startStream")
    assert (start.params["channel"], start.params["recipient_user_id"]) == ("D0DM", USER)
