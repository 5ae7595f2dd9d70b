"""Dexter in Slack end to end: signed HTTP into the real Bolt app, Web API calls to the stand-in."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from bot.blocks import ACTION_RETRY
from standins.openai_server import Reply
from standins.slack_api import BOT_ID, TEAM_ID
from standins.slack_events import (
    CHANNEL,
    USER,
    event_callback,
    mention,
    message,
    next_ts,
)
from tests.bot.observe import answers, is_answer, wait_until

SESSION_PREFIX = f"slack:{TEAM_ID}:{CHANNEL}:"


async def answered_control_question(dexter) -> None:
    """Ask a fresh question and wait for its answer: events sent before it have had their
    chance to act by then, so a test can assert they did nothing."""
    control = mention("Control question: what is Nvidia's revenue?")
    await dexter.send.event(control)
    await wait_until(lambda: answers(dexter.slack, control["ts"]))


async def test_mention_shows_progress_then_answers_in_the_thread(start_dexter, model) -> None:
    dexter = await start_dexter()
    question = mention("What was Apple's revenue in 2023?")

    response = await dexter.send.event(question)

    assert response.status_code == 200
    await wait_until(lambda: answers(dexter.slack, question["ts"]))
    status = dexter.slack.calls("chat.postMessage")[0]
    assert status.params["thread_ts"] == question["ts"]
    assert "Researching" in status.params["text"]
    (answer,) = answers(dexter.slack, question["ts"])
    assert answer["ts"] == status.response["ts"]  # the status message became the answer
    rendered = json.dumps(answer["blocks"])
    assert "*AAPL*" in rendered and "391035000000" in rendered
    assert "income-statements" in rendered
    history = await dexter.remembered.load(SESSION_PREFIX + question["ts"])
    assert [t.question for t in history] == ["What was Apple's revenue in 2023?"]
    assert history.turns[0].user == USER


async def test_follow_up_without_mention_uses_the_first_turn(start_dexter, model) -> None:
    dexter = await start_dexter()
    first = mention("What was Nvidia's revenue in 2024?")
    await dexter.send.event(first)
    await wait_until(lambda: answers(dexter.slack, first["ts"]))

    await dexter.send.event(message("how did that change since 2021?", thread_ts=first["ts"]))

    await wait_until(lambda: len(answers(dexter.slack, first["ts"])) == 2)
    follow_up = model.requests("understand")[-1]
    assert "Nvidia's revenue in 2024" in follow_up.text
    assert "NVDA" in json.dumps(answers(dexter.slack, first["ts"])[-1]["blocks"])
    history = await dexter.remembered.load(SESSION_PREFIX + first["ts"])
    assert [t.seq for t in history] == [1, 2]


async def test_messages_in_threads_dexter_never_joined_are_left_alone(start_dexter, model) -> None:
    dexter = await start_dexter()
    root = next_ts()

    await dexter.send.event(message("what about Apple?", thread_ts=root))
    await answered_control_question(dexter)

    assert all(c.params["thread_ts"] != root for c in dexter.slack.calls("chat.postMessage"))
    assert not any("what about Apple?" in r.text for r in model.requests())


async def test_retry_and_double_delivery_give_exactly_one_answer(start_dexter, model) -> None:
    dexter = await start_dexter()
    question = mention("What is Tesla's revenue?")
    same_as_message = message(question["text"], ts=question["ts"])

    responses = await asyncio.gather(
        dexter.send.event(question),
        dexter.send.event(question, retry_num=1),
        dexter.send.event(same_as_message),
        dexter.send.event(question, retry_num=2),
    )

    assert [r.status_code for r in responses] == [200] * 4
    await wait_until(lambda: answers(dexter.slack, question["ts"]))
    await answered_control_question(dexter)
    threads = [c.params["thread_ts"] for c in dexter.slack.calls("chat.postMessage")]
    assert threads.count(question["ts"]) == 1
    assert sum("Tesla" in r.text for r in model.requests("answer")) == 1


async def test_a_first_delivery_carrying_a_retry_header_is_still_answered(
    start_dexter, model
) -> None:
    dexter = await start_dexter()
    question = mention("What is Microsoft's revenue?")

    await dexter.send.event(question, retry_num=1)

    await wait_until(lambda: answers(dexter.slack, question["ts"]))


async def test_two_questions_at_once_in_a_thread_get_two_ordered_answers(
    start_dexter, model
) -> None:
    dexter = await start_dexter()
    root = mention("What was Apple's revenue in 2023?")
    second = message("And Microsoft's?", thread_ts=root["ts"])
    model.script("answer", Reply(content="**AAPL** first answer: revenue 391035000000.", delay=0.5))

    await dexter.send.event(root)
    await wait_until(lambda: dexter.slack.calls("chat.postMessage"))
    await dexter.send.event(second)

    await wait_until(lambda: len(answers(dexter.slack, root["ts"])) == 2)
    history = await dexter.remembered.load(SESSION_PREFIX + root["ts"])
    assert [t.question for t in history] == [
        "What was Apple's revenue in 2023?",
        "And Microsoft's?",
    ]
    second_answer_prompt = model.requests("answer")[1]
    assert "first answer" in second_answer_prompt.text  # it saw the first answer
    first_done = dexter.slack.calls("chat.update")
    assert min(c.time for c in first_done if is_answer(c)) < max(
        c.time for c in dexter.slack.calls("chat.postMessage")
    )


async def test_a_direct_message_starts_a_session_in_its_own_thread(start_dexter, model) -> None:
    dexter = await start_dexter()
    dm = message("Amazon revenue 2024?", channel="D0DIRECT", channel_type="im")

    await dexter.send.event(dm)

    answer = await dexter.slack.wait_for("chat.postMessage", is_answer, timeout=10)
    assert answer.params["channel"] == "D0DIRECT" and answer.params["thread_ts"] == dm["ts"]
    status = dexter.slack.calls("assistant.threads.setStatus")
    assert status and status[0].params["thread_ts"] == dm["ts"]  # the AI app status bar
    assert len(status[0].params["loading_messages"]) > 1  # rotating while Dexter works
    history = await dexter.remembered.load(f"slack:{TEAM_ID}:D0DIRECT:{dm['ts']}")
    assert len(history) == 1


async def test_bots_edits_and_other_subtypes_are_ignored(start_dexter, model) -> None:
    dexter = await start_dexter()
    root = mention("Apple revenue?")
    await dexter.send.event(root)
    await wait_until(lambda: answers(dexter.slack, root["ts"]))
    before = len(dexter.slack.calls("chat.postMessage"))

    for event in (
        message("from a bot", thread_ts=root["ts"], bot_id=BOT_ID, user=None),
        message("edited", thread_ts=root["ts"], subtype="message_changed"),
        message("", thread_ts=root["ts"], subtype="message_deleted"),
        message("joined", subtype="channel_join"),
    ):
        assert (await dexter.send.event(event)).status_code == 200
    await answered_control_question(dexter)

    assert len(dexter.slack.calls("chat.postMessage")) == before + 1  # the control only
    assert len(await dexter.remembered.load(SESSION_PREFIX + root["ts"])) == 1


@pytest.mark.parametrize("thread_ts", ["abc", "1.2", "1700000000.000100x", "9" * 10_000])
async def test_a_message_with_an_odd_thread_ts_is_ignored(start_dexter, model, thread_ts) -> None:
    dexter = await start_dexter()

    response = await dexter.send.event(mention("Apple revenue?", thread_ts=thread_ts))
    await answered_control_question(dexter)

    assert response.status_code == 200
    assert len(model.requests("understand")) == 1  # the control question's
    listed = await dexter.remembered.sessions(f"slack:{TEAM_ID}:{CHANNEL}")
    assert [s.first_question for s in listed] == ["Control question: what is Nvidia's revenue?"]


async def test_a_question_over_the_length_limit_is_declined_politely(start_dexter, model) -> None:
    dexter = await start_dexter(dexter_max_query_chars=4000)
    question = mention("What was Apple's revenue? " + "Please be thorough. " * 250)

    await dexter.send.event(question)

    notice = await dexter.slack.wait_for("chat.postEphemeral")
    assert notice.params["thread_ts"] == question["ts"] and notice.params["user"] == USER
    assert "up to 4,000" in notice.params["text"] and "shorten" in notice.params["text"]
    await answered_control_question(dexter)
    assert len(model.requests("understand")) == 1  # the control question's


async def test_an_empty_mention_gets_a_usage_hint(start_dexter, model) -> None:
    dexter = await start_dexter()

    await dexter.send.event(mention(""))

    hint = await dexter.slack.wait_for("chat.postEphemeral")
    assert hint.params["user"] == USER and "Ask me about a company" in hint.params["text"]
    assert model.requests() == []


async def test_a_model_failure_apologises_in_the_thread_and_retry_answers(
    start_dexter, model
) -> None:
    dexter = await start_dexter(dexter_model_retries=0)
    model.script("understand", Reply(status=500))
    question = mention("What was Apple's revenue in 2023?")
    dexter.slack.add_message(CHANNEL, question["text"], user=USER, ts=question["ts"])

    await dexter.send.event(question)

    apology = await dexter.slack.wait_for(
        "chat.update", lambda c: "Reference" in json.dumps(c.params.get("blocks") or [])
    )
    text = json.dumps(apology.params["blocks"])
    assert "could not handle this request" in text and ACTION_RETRY in text
    assert len(await dexter.remembered.load(SESSION_PREFIX + question["ts"])) == 0

    await dexter.send.click(ACTION_RETRY, question["ts"], thread_ts=question["ts"])

    await wait_until(lambda: answers(dexter.slack, question["ts"]))
    assert len(await dexter.remembered.load(SESSION_PREFIX + question["ts"])) == 1


async def test_a_follow_up_after_an_apology_is_answered(start_dexter, model) -> None:
    """The failed answer stored no turn, but Dexter replied in the thread: it is Dexter's."""
    dexter = await start_dexter(dexter_model_retries=0)
    model.script("understand", Reply(status=500))
    question = mention("What was Apple's revenue in 2023?")
    await dexter.send.event(question)
    await dexter.slack.wait_for(
        "chat.update", lambda c: "Reference" in json.dumps(c.params.get("blocks") or [])
    )
    await dexter.runtime.slack.answerer.drain()

    await dexter.send.event(message("And in 2022?", thread_ts=question["ts"]))

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    history = await dexter.remembered.load(SESSION_PREFIX + question["ts"])
    assert [turn.question for turn in history.turns] == ["And in 2022?"]


async def test_slack_rate_limits_are_waited_out(start_dexter, model) -> None:
    dexter = await start_dexter()
    dexter.slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    question = mention("Apple revenue?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=15)
    limited, *_, accepted = dexter.slack.calls("chat.postMessage")
    assert (limited.status, accepted.status) == (429, 200)
    assert accepted.params["text"] == limited.params["text"]  # the same status, sent again
    assert accepted.time - limited.time >= 1.0  # after the Retry-After Slack asked for


async def test_bad_signature_stale_timestamp_and_malformed_json_are_refused(
    start_dexter, model
) -> None:
    dexter = await start_dexter()
    body = json.dumps(event_callback(mention("Apple?")))

    forged = await dexter.send.post(body, "application/json", secret="not-the-secret")
    stale = await dexter.send.post(body, "application/json", timestamp=int(time.time()) - 600)
    malformed = await dexter.send.post('{"type": "event_callback", "event": ', "application/json")

    assert forged.status_code == 401
    assert stale.status_code == 401
    assert malformed.status_code == 400
    await answered_control_question(dexter)
    assert len(dexter.slack.calls("chat.postMessage")) == 1  # the control only


async def test_starting_logs_no_warning_about_the_bot_token(
    start_dexter, caplog, monkeypatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-as-deployments-set-it")
    caplog.set_level(logging.WARNING)

    await start_dexter()

    assert [r.getMessage() for r in caplog.records if "will be ignored" in r.getMessage()] == []


async def test_url_verification_is_answered(start_dexter) -> None:
    dexter = await start_dexter()

    response = await dexter.send.post(
        json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}),
        "application/json",
    )

    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}


async def test_health_check_reports_the_store(start_dexter) -> None:
    dexter = await start_dexter()

    response = await dexter.send.http.get(f"{dexter.url}/healthz")

    assert response.status_code == 200 and response.json()["store"] == "up"


async def test_ack_comes_before_the_research_finishes(start_dexter, model) -> None:
    dexter = await start_dexter()
    model.latency = 0.4

    started = time.perf_counter()
    response = await dexter.send.event(mention("Apple revenue?"))
    acked = time.perf_counter() - started

    assert response.status_code == 200 and acked < 0.3
    assert not any(is_answer(c) for c in dexter.slack.calls("chat.update"))


async def test_a_rate_limited_status_edit_is_dropped_but_the_answer_lands(
    start_dexter, model
) -> None:
    dexter = await start_dexter()
    dexter.slack.rate_limit("chat.update", times=1, retry_after=1)
    model.latency = 0.2
    question = mention("Apple revenue?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=15)
    updates = dexter.slack.calls("chat.update")
    assert updates[0].status == 429
    status_edits_after_429 = [c for c in updates[1:] if not is_answer(c)]
    assert all(c.time - updates[0].time >= 0.9 for c in status_edits_after_429)


async def test_an_oversized_body_is_refused_before_it_is_read(start_dexter) -> None:
    dexter = await start_dexter()

    response = await dexter.send.post("x" * 2_000_000, "application/json")

    assert response.status_code == 413
