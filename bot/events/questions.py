"""Mentions, direct messages and follow-ups in Dexter's threads become questions."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import usage_blocks
from bot.ephemeral_replies import tell_asker
from bot.listener_services import BotServices
from bot.questions import Question, question_from_event
from stores import StoreUnavailable

log = logging.getLogger(__name__)

USAGE_HINT = "Ask me about a company, e.g. “@Dexter how did Apple's margins change since 2021?”"


async def on_mention(
    event: dict[str, Any], context: AsyncBoltContext, services: BotServices
) -> None:
    question = question_from_event(event, context.team_id, context.bot_user_id)
    if question is not None:
        await handle_question(question, services, context.client)


async def on_message(
    event: dict[str, Any], context: AsyncBoltContext, services: BotServices
) -> None:
    question = question_from_event(event, context.team_id, context.bot_user_id)
    if question is None or (question.mentioned and not question.is_dm):
        return  # the app_mention event of the same message answers it
    if question.is_dm or await is_follow_up(question, services, context.bot_user_id):
        await handle_question(question, services, context.client)


async def is_follow_up(question: Question, services: BotServices, bot_user_id: str | None) -> bool:
    """A message without a mention in a thread Dexter has answered (or is answering).

    The store knows Dexter's threads; while it is down, Slack's copy of the thread says
    whether Dexter wrote in it, so the follow-up is taken (and hears the store's apology
    with Try again) instead of being dropped without a word.
    """
    if not (question.in_thread and services.follow_up_without_mention):
        return False
    session_id = question.thread.session_id
    if services.answerer.is_answering(session_id):
        return True
    try:
        return await services.history.has_turns(session_id)
    except StoreUnavailable as exc:
        log.warning("is %s a follow-up? the store is down (%s); asking Slack", session_id, exc)
        return await services.history.dexter_wrote_in(question.thread, bot_user_id)


async def handle_question(
    question: Question, services: BotServices, client: AsyncWebClient
) -> None:
    """Answer, or run the thread command (`history`, `clear`, `help`) the text names."""
    if not await services.answerer.claim(question):
        return
    if not question.text:
        await tell_asker(client, question, USAGE_HINT, usage_blocks("@Dexter", None))
        return
    if len(question.text) > services.max_question_chars:
        await tell_asker(
            client,
            question,
            f"That question is {len(question.text):,} characters long; I can take up to "
            f"{services.max_question_chars:,}. Please shorten it and ask again.",
        )
        return
    command = question.command if question.mentioned or question.is_dm else None
    if command is None:
        services.answerer.enqueue(question)
    elif command == "history":
        await services.history.show_in_thread(question)
    elif command == "clear":
        await services.history.confirm_in_thread(question)
    else:
        await tell_asker(client, question, "How to use Dexter", usage_blocks("@Dexter help", None))
