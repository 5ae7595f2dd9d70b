"""Button clicks on Dexter's ephemeral messages: show, page, clear, confirm, cancel, retry."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.blocks import (
    ACTION_CLEAR_CANCEL,
    ACTION_CLEAR_CONFIRM,
    ACTION_CLEAR_REQUEST,
    ACTION_HISTORY_PAGE,
    ACTION_HISTORY_SHOW,
    ACTION_RETRY,
    Blocks,
    parse_history_page_value,
)
from bot.memory import AccessDenied, authorize
from bot.questions import Question, clean_text
from bot.responding import respond_with
from bot.services import BotServices
from bot.threads import ThreadRef

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: BotServices) -> None:
    memory = services.memory

    @app.action(ACTION_HISTORY_SHOW)
    async def show(
        ack: AsyncAck, body: dict[str, Any], action: dict, respond: AsyncRespond
    ) -> None:
        await ack()

        async def produce() -> Blocks:
            return await memory.thread_page(thread_of(body, action["value"]))

        await respond_with(respond, produce, command="Show", replace_original=True)

    @app.action(ACTION_HISTORY_PAGE)
    async def page(
        ack: AsyncAck, body: dict[str, Any], action: dict, respond: AsyncRespond
    ) -> None:
        await ack()

        async def produce() -> Blocks:
            try:
                session_id, number = parse_history_page_value(action["value"])
            except ValueError as exc:
                raise AccessDenied("that page button is not Dexter's") from exc
            return await memory.thread_page(thread_of(body, session_id), number)

        await respond_with(respond, produce, command="Page", replace_original=True)

    @app.action(ACTION_CLEAR_REQUEST)
    async def clear_request(
        ack: AsyncAck, body: dict[str, Any], action: dict, respond: AsyncRespond
    ) -> None:
        await ack()

        async def produce() -> Blocks:
            return await memory.clear_confirmation(thread_of(body, action["value"]))

        await respond_with(respond, produce, command="Clear", replace_original=True)

    @app.action(ACTION_CLEAR_CONFIRM)
    async def clear_confirm(
        ack: AsyncAck, body: dict[str, Any], action: dict, respond: AsyncRespond
    ) -> None:
        await ack()

        async def produce() -> Blocks:
            return await memory.clear(thread_of(body, action["value"]))

        await respond_with(respond, produce, command="Erase", replace_original=True)

    @app.action(ACTION_CLEAR_CANCEL)
    async def clear_cancel(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(delete_original=True)

    @app.action(ACTION_RETRY)
    async def retry(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict,
        context: AsyncBoltContext,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        message_ts = (body.get("container") or {}).get("message_ts") or action["value"]
        retry_key = f"slack-retry:{(body.get('channel') or {}).get('id')}:{message_ts}"
        if not await services.answerer.claim_key(retry_key):
            return  # a second click on the same apology
        question = await question_to_retry(body, action["value"], context)
        if question is None:
            await respond(
                text="I can't find that question any more; please ask it again.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        await respond(delete_original=True)
        services.answerer.enqueue(question)


def thread_of(body: dict[str, Any], session_id: str) -> ThreadRef:
    """The clicked button's thread, if it belongs to the conversation the click came from."""
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
    team = (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id")
    return authorize(session_id, str(team), str(channel))


async def question_to_retry(
    body: dict[str, Any], question_ts: str, context: AsyncBoltContext
) -> Question | None:
    """The original question under a failed answer's "Try again", read back from Slack."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    team = (body.get("team") or {}).get("id") or context.team_id
    if not (channel and thread_ts and team):
        return None
    try:
        replies = await context.client.conversations_replies(
            channel=channel, ts=thread_ts, oldest=question_ts, latest=question_ts, inclusive=True
        )
    except SlackApiError as exc:
        log.warning("cannot read back the question to retry: %s", exc.response.get("error"))
        return None
    messages: list[dict[str, Any]] = replies.get("messages", [])
    original = next((m for m in messages if m.get("ts") == question_ts), None)
    if original is None or not original.get("user"):
        return None
    return Question(
        thread=ThreadRef(team, channel, thread_ts),
        ts=question_ts,
        user=original["user"],
        text=clean_text(str(original.get("text") or ""), context.bot_user_id),
        mentioned=True,
        is_dm=str(channel).startswith("D"),
    )
