"""The Slack Web API stand-in, driven by the real slack_sdk clients as the bot will drive it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from standins.slack_api import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    TEAM_ID,
    SlackAPIServer,
)

CHANNEL = "C0001"


@pytest.fixture
async def client(clean_slack_api: SlackAPIServer) -> AsyncIterator[AsyncWebClient]:
    yield AsyncWebClient(token=BOT_TOKEN, base_url=clean_slack_api.url)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def _error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value


# --- identity and auth -------------------------------------------------------------------


async def test_auth_test_names_the_team_and_the_bot(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    response = await client.auth_test()
    assert (response["team_id"], response["user_id"], response["bot_id"]) == (
        TEAM_ID,
        BOT_USER_ID,
        BOT_ID,
    )
    [call] = clean_slack_api.calls("auth.test")
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.path == "/api/auth.test"


async def test_a_wrong_or_missing_token_is_refused(clean_slack_api: SlackAPIServer) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=clean_slack_api.url)
    error = await _error_of(wrong.chat_postMessage(channel=CHANNEL, text="hi"))
    assert error.response["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=clean_slack_api.url)
    error = await _error_of(anonymous.auth_test())
    assert error.response["error"] == "not_authed"
    assert [call.method for call in clean_slack_api.calls()] == ["chat.postMessage", "auth.test"]


async def test_a_token_sent_as_a_parameter_is_accepted_and_not_recorded(
    clean_slack_api: SlackAPIServer,
) -> None:
    anonymous = AsyncWebClient(base_url=clean_slack_api.url)
    response = await anonymous.api_call("auth.test", params={"token": BOT_TOKEN})
    assert response["ok"]
    both = AsyncWebClient(token=BOT_TOKEN, base_url=clean_slack_api.url)
    await both.api_call("auth.test", data={"token": "xoxb-other"})
    assert all("token" not in call.params for call in clean_slack_api.calls("auth.test"))


# --- messages ----------------------------------------------------------------------------


async def test_post_message_assigns_increasing_ts_and_honours_threads(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    first = await client.chat_postMessage(channel=CHANNEL, text="parent")
    reply = await client.chat_postMessage(
        channel=CHANNEL, thread_ts=first["ts"], text="reply", blocks=[_section("*reply*")]
    )
    assert (first["ts"], reply["ts"]) == ("1700000000.000100", "1700000000.000200")
    assert reply["channel"] == CHANNEL
    assert reply["message"]["thread_ts"] == first["ts"]
    assert reply["message"]["bot_id"] == BOT_ID
    assert reply["message"]["blocks"] == [_section("*reply*")]
    call = clean_slack_api.calls("chat.postMessage")[1]
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.params["blocks"] == [_section("*reply*")]


async def test_form_encoded_calls_are_parsed_and_their_json_fields_decoded(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    blocks = [_section("from a form")]
    response = await client.api_call(
        "chat.postMessage",
        data={"channel": CHANNEL, "text": "form", "blocks": json.dumps(blocks)},
    )
    assert response["ok"]
    call = clean_slack_api.calls("chat.postMessage")[0]
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.params == {"channel": CHANNEL, "text": "form", "blocks": blocks}


async def test_query_string_methods_are_parsed_get_and_post(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="parent")
    reply = await client.chat_postMessage(channel=CHANNEL, thread_ts=parent["ts"], text="r")
    top = await client.chat_getPermalink(channel=CHANNEL, message_ts=parent["ts"])
    threaded = await client.chat_getPermalink(channel=CHANNEL, message_ts=reply["ts"])
    assert top["permalink"] == "https://example.slack.com/archives/C0001/p1700000000000100"
    assert threaded["permalink"] == (
        "https://example.slack.com/archives/C0001/p1700000000000200"
        "?thread_ts=1700000000.000100&cid=C0001"
    )
    assert clean_slack_api.calls("chat.getPermalink")[0].http_method == "GET"
    assert clean_slack_api.calls("chat.postMessage")[0].http_method == "POST"
    assert [m["text"] for m in clean_slack_api.messages(CHANNEL)] == ["parent", "r"]


async def test_update_replies_and_ephemeral_messages(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    question = clean_slack_api.add_message(CHANNEL, "<@U0BOT> how is AAPL?", ts="1699999999.000001")
    progress = await client.chat_postMessage(channel=CHANNEL, thread_ts=question, text="Thinking…")
    updated = await client.chat_update(
        channel=CHANNEL, ts=progress["ts"], text="Done", blocks=[_section("Done")]
    )
    assert updated["message"]["text"] == "Done"
    replies = await client.conversations_replies(channel=CHANNEL, ts=question)
    assert [m["text"] for m in replies["messages"]] == ["<@U0BOT> how is AAPL?", "Done"]
    assert replies["messages"][0]["reply_count"] == 1
    ephemeral = await client.chat_postEphemeral(channel=CHANNEL, user="U0ASKER", text="only you")
    assert ephemeral["message_ts"]
    error = await _error_of(client.chat_update(channel=CHANNEL, ts=question, text="edit"))
    assert error.response["error"] == "cant_update_message"
    error = await _error_of(client.chat_update(channel=CHANNEL, ts="1.000000", text="x"))
    assert error.response["error"] == "message_not_found"
    error = await _error_of(client.conversations_replies(channel=CHANNEL, ts="1.000000"))
    assert error.response["error"] == "thread_not_found"


async def test_the_status_method_dexter_calls_answers_like_slack_and_others_are_unknown(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    await client.assistant_threads_setStatus(
        channel_id=CHANNEL, thread_ts="1.1", status="is thinking…"
    )
    status = clean_slack_api.calls("assistant.threads.setStatus")[0]
    assert status.params == {"channel_id": CHANNEL, "thread_ts": "1.1", "status": "is thinking…"}
    unsaid = {"channel_id": CHANNEL, "thread_ts": "1.1"}
    error = await _error_of(client.api_call("assistant.threads.setStatus", json=unsaid))
    assert error.response["error"] == "invalid_arguments"
    for method in ("chat.scheduleMessage", "views.open", "users.info"):
        error = await _error_of(client.api_call(method, json={"channel": CHANNEL}))
        assert error.response["error"] == "unknown_method", method


# --- Slack's refusals --------------------------------------------------------------------


async def test_text_over_forty_thousand_characters_is_too_long(client: AsyncWebClient) -> None:
    assert (await client.chat_postMessage(channel=CHANNEL, text="x" * 40_000))["ok"]
    error = await _error_of(client.chat_postMessage(channel=CHANNEL, text="x" * 40_001))
    assert error.response["error"] == "msg_too_long"


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([_section("x")] * 51, "/blocks]"),
        ([_section("x" * 3001)], "/blocks/0/text/text"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}], "/elements"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "/text/text"),
        ([{"type": "sparkles"}], "/blocks/0/type"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "x" * 76},
                            "action_id": "a",
                        }
                    ],
                }
            ],
            "/elements/0/text/text",
        ),
    ],
)
async def test_blocks_slack_would_refuse_are_invalid(
    client: AsyncWebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    error = await _error_of(client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks))
    assert error.response["error"] == "invalid_blocks"
    assert any(pointer in message for message in error.response["response_metadata"]["messages"])


async def test_blocks_holding_too_much_text_in_total_are_refused(client: AsyncWebClient) -> None:
    blocks = [_section("x" * 3000)] * 5
    error = await _error_of(client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks))
    assert error.response["error"] == "msg_blocks_too_long"


async def test_a_message_needs_text_or_blocks(client: AsyncWebClient) -> None:
    error = await _error_of(client.api_call("chat.postMessage", json={"channel": CHANNEL}))
    assert error.response["error"] == "no_text"


async def test_unknown_channels_are_not_found_once_an_allow_list_is_set(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    clean_slack_api.allow_channels(CHANNEL)
    assert (await client.chat_postMessage(channel=CHANNEL, text="ok"))["ok"]
    error = await _error_of(client.chat_postMessage(channel="C0THER", text="no"))
    assert error.response["error"] == "channel_not_found"
    error = await _error_of(
        client.assistant_threads_setStatus(channel_id="C0THER", thread_ts="1.1", status="x")
    )
    assert error.response["error"] == "channel_not_found"


# --- arranged failures -------------------------------------------------------------------


async def test_a_rate_limited_call_answers_429_with_retry_after(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    clean_slack_api.rate_limit("chat.postMessage", times=1, retry_after=7)
    error = await _error_of(client.chat_postMessage(channel=CHANNEL, text="hi"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel=CHANNEL, text="hi"))["ok"]


async def test_the_sdk_retry_handler_waits_out_retry_after_then_succeeds(
    clean_slack_api: SlackAPIServer,
) -> None:
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=clean_slack_api.url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    clean_slack_api.rate_limit("chat.postMessage", times=1, retry_after=1)
    response = await client.chat_postMessage(channel=CHANNEL, text="patient")
    assert response["ok"]
    limited, accepted = clean_slack_api.calls("chat.postMessage")
    assert (limited.status, accepted.status) == (429, 200)
    assert accepted.time - limited.time >= 1.0


async def test_arranged_errors_answer_the_next_calls_then_stop(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    clean_slack_api.fail("chat.update", "internal_error", times=2)
    posted = await client.chat_postMessage(channel=CHANNEL, text="a")
    for _ in range(2):
        error = await _error_of(client.chat_update(channel=CHANNEL, ts=posted["ts"], text="b"))
        assert error.response["error"] == "internal_error"
    assert (await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="b"))["ok"]


# --- response URLs -----------------------------------------------------------------------


async def test_response_url_posts_land_here_and_are_checked(
    clean_slack_api: SlackAPIServer,
) -> None:
    webhook = AsyncWebhookClient(url=clean_slack_api.response_url("abc"))
    sent = await webhook.send(text="Cleared", replace_original=True, blocks=[_section("Cleared")])
    assert (sent.status_code, sent.body) == (200, "ok")
    call = await clean_slack_api.wait_for("response_url")
    assert call.path == "/response/abc"
    assert call.params["replace_original"] is True
    assert call.params["blocks"] == [_section("Cleared")]
    refused = await webhook.send(text="x", blocks=[_section("x" * 3001)])
    assert (refused.status_code, refused.body) == (400, "invalid_blocks")
    deleted = await webhook.send_dict({"delete_original": True})
    assert (deleted.status_code, deleted.body) == (200, "ok")


# --- waiting and resetting ---------------------------------------------------------------


async def test_wait_for_returns_a_call_made_later_by_the_app(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    async def answer_later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel=CHANNEL, text="first")
        await client.chat_postMessage(channel=CHANNEL, text="second")

    task = asyncio.create_task(answer_later())
    call = await clean_slack_api.wait_for(
        "chat.postMessage", lambda c: c.params["text"] == "second", timeout=2
    )
    await task
    assert call.response["message"]["text"] == "second"


async def test_wait_for_says_what_it_saw_when_nothing_matches(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    await client.auth_test()
    with pytest.raises(TimeoutError, match=r"chat.postMessage.*auth\.test"):
        await clean_slack_api.wait_for("chat.postMessage", timeout=0.1)


def test_wait_for_sync_serves_code_without_an_event_loop(clean_slack_api: SlackAPIServer) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=clean_slack_api.url)
    poster = threading.Timer(0.05, lambda: client.chat_postMessage(channel=CHANNEL, text="hi"))
    poster.start()
    call = clean_slack_api.wait_for_sync("chat.postMessage", timeout=2)
    poster.join()
    assert call.params["text"] == "hi"


async def test_reset_forgets_everything_and_restarts_ts(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    await client.chat_postMessage(channel=CHANNEL, text="one")
    clean_slack_api.allow_channels("C0THER")
    clean_slack_api.fail("auth.test", "fatal_error")
    clean_slack_api.reset()
    assert clean_slack_api.calls() == []
    assert clean_slack_api.messages(CHANNEL) == []
    assert (await client.auth_test())["ok"]
    assert (await client.chat_postMessage(channel=CHANNEL, text="again"))["ts"] == (
        "1700000000.000100"
    )


# --- chat streaming ----------------------------------------------------------------------


async def _stream(client: AsyncWebClient, **extra: Any) -> str:
    response = await client.chat_startStream(
        channel=CHANNEL,
        thread_ts="1700000000.000001",
        recipient_user_id="U0001",
        recipient_team_id=TEAM_ID,
        **extra,
    )
    return str(response["ts"])


async def test_a_stream_keeps_its_text_tasks_and_plan_title(
    client: AsyncWebClient, clean_slack_api: SlackAPIServer
) -> None:
    ts = await _stream(client, task_display_mode="plan")
    task = {"type": "task_update", "id": "t1", "title": "income statements · AAPL"}
    await client.chat_appendStream(
        channel=CHANNEL,
        ts=ts,
        chunks=[{**task, "status": "in_progress"}, {"type": "markdown_text", "text": "Revenue "}],
    )
    await client.chat_stopStream(
        channel=CHANNEL,
        ts=ts,
        chunks=[
            {**task, "status": "complete", "details": "4 years"},
            {"type": "plan_update", "title": "Researched"},
            {"type": "markdown_text", "text": "rose."},
        ],
        blocks=[_section("*Sources:* x")],
    )

    [message] = clean_slack_api.messages(CHANNEL)
    assert message["streaming_state"] == "completed"
    assert message["text"] == "Revenue rose."
    assert message["stream"]["tasks"]["t1"]["status"] == "complete"
    assert message["stream"]["plan_title"] == "Researched"
    assert message["blocks"] == [_section("*Sources:* x")]


@pytest.mark.parametrize(
    ("missing", "error"),
    [
        ("recipient_user_id", "missing_recipient_user_id"),
        ("recipient_team_id", "missing_recipient_team_id"),
    ],
)
async def test_a_stream_needs_its_recipient(
    client: AsyncWebClient, missing: str, error: str
) -> None:
    arguments = {
        "channel": CHANNEL,
        "thread_ts": "1700000000.000001",
        "recipient_user_id": "U0001",
        "recipient_team_id": TEAM_ID,
    }
    del arguments[missing]
    refused = await _error_of(client.chat_startStream(**arguments))
    assert refused.response["error"] == error


@pytest.mark.parametrize(
    ("chunk", "error"),
    [
        ({"type": "sparkles"}, "invalid_chunks"),
        ({"type": "task_update", "id": "t", "title": "x", "status": "done"}, "invalid_chunks"),
        (
            {"type": "task_update", "id": "t", "title": "x" * 257, "status": "pending"},
            "invalid_chunks",
        ),
        ({"type": "markdown_text", "text": "x" * 12_001}, "msg_too_long"),
    ],
)
async def test_chunks_slack_would_refuse_are_refused(
    client: AsyncWebClient, chunk: dict[str, Any], error: str
) -> None:
    ts = await _stream(client)
    refused = await _error_of(client.chat_appendStream(channel=CHANNEL, ts=ts, chunks=[chunk]))
    assert refused.response["error"] == error


async def test_a_stopped_stream_takes_nothing_more(client: AsyncWebClient) -> None:
    ts = await _stream(client, markdown_text="Hello")
    await client.chat_stopStream(channel=CHANNEL, ts=ts)

    for call in (
        client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text="more"),
        client.chat_stopStream(channel=CHANNEL, ts=ts),
    ):
        refused = await _error_of(call)
        assert refused.response["error"] == "message_not_in_streaming_state"


async def test_an_append_without_content_or_a_bad_display_mode_is_refused(
    client: AsyncWebClient,
) -> None:
    ts = await _stream(client)
    refused = await _error_of(client.chat_appendStream(channel=CHANNEL, ts=ts))
    assert refused.response["error"] == "no_text"
    refused = await _error_of(_stream(client, task_display_mode="cards"))
    assert refused.response["error"] == "invalid_arguments"
