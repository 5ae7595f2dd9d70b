"""The Try again button under a failed answer: ask the original question once more."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.ephemeral_replies import reply_to_requester
from bot.listener_services import BotServices
from bot.questions import Question, clean_text
from bot.threads import ThreadRef

log = logging.getLogger(__name__)


async def retry_question(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
    services: BotServices,
) -> None:
    await ack()
    message_ts = (body.get("container") or {}).get("message_ts") or action["value"]
    retry_key = f"slack-retry:{(body.get('channel') or {}).get('id')}:{message_ts}"
    if not await services.answerer.claim_key(retry_key):
        return  # a second click on the same apology
    question = await question_to_retry(body, action["value"], context)
    if question is None:
        await reply_to_requester(
            respond, "I can't find that question any more; please ask it again."
        )
        return
    await respond(delete_original=True)
    services.answerer.enqueue(question)


async def question_to_retry(
    body: dict[str, Any], question_ts: str, context: AsyncBoltContext
) -> Question | None:
    """The original question under a failed answer's "Try again", read back from Slack."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    team = (body.get("team") or {}).get("id") or context.team_id
    try:
        thread = ThreadRef.checked(str(team), str(channel), str(thread_ts))
    except ValueError:
        return None
    try:
        replies = await context.client.conversations_replies(
            channel=thread.channel,
            ts=thread.thread_ts,
            oldest=question_ts,
            latest=question_ts,
            inclusive=True,
        )
    except SlackApiError as exc:
        log.warning("cannot read back the question to retry: %s", exc.response.get("error"))
        return None
    messages: list[dict[str, Any]] = replies.get("messages", [])
    original = next((m for m in messages if m.get("ts") == question_ts), None)
    if original is None or not original.get("user"):
        return None
    return Question(
        thread=thread,
        ts=question_ts,
        user=original["user"],
        text=clean_text(str(original.get("text") or ""), context.bot_user_id),
        mentioned=True,
        is_dm=str(channel).startswith("D"),
    )
