"""Mentions, direct messages and follow-ups in Dexter's threads become questions."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import usage_blocks
from bot.ephemeral_replies import tell_asker
from bot.listener_services import BotServices
from bot.questions import Question, ThreadCommand, question_from_event
from stores import StoreUnavailable

log = logging.getLogger(__name__)

USAGE_HINT = "Ask me about a company, e.g. “@Dexter how did Apple's margins change since 2021?”"


async def take_mention(
    event: dict[str, Any], context: AsyncBoltContext, next_: Callable[[], Awaitable[None]]
) -> None:
    """Listener middleware: runs before Bolt acknowledges the event, so a question is
    claimed and held in the shared store before Slack stops redelivering it."""
    question = question_from_event(event, context.team_id, context.bot_user_id)
    await _take(question, context)
    await next_()


async def take_message(
    event: dict[str, Any], context: AsyncBoltContext, next_: Callable[[], Awaitable[None]]
) -> None:
    """As `take_mention`, for direct messages and follow-ups without a mention."""
    question = question_from_event(event, context.team_id, context.bot_user_id)
    if question is None or (question.mentioned and not question.is_dm):
        question = None  # the app_mention event of the same message answers it
    elif not question.is_dm:
        services: BotServices = context["services"]
        if not await is_follow_up(question, services, context.bot_user_id):
            question = None
    await _take(question, context)
    await next_()


async def _take(question: Question | None, context: AsyncBoltContext) -> None:
    services: BotServices = context["services"]
    if question is not None:
        to_answer = question.text and command_of(question, services) is None
        if not await services.answerer.take(question, to_answer=bool(to_answer)):
            question = None
    context["question"] = question


async def on_question(context: AsyncBoltContext, services: BotServices) -> None:
    """Answer, or run the thread command of, the question the middleware took."""
    question: Question | None = context.get("question")
    if question is not None:
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
        has_turns = await services.history.has_turns(session_id)
        return has_turns or await services.answerer.replied_in(session_id)
    except StoreUnavailable as exc:
        log.warning("is %s a follow-up? the store is down (%s); asking Slack", session_id, exc)
        return await services.history.dexter_wrote_in(question.thread, bot_user_id)


async def handle_question(
    question: Question, services: BotServices, client: AsyncWebClient
) -> None:
    """Answer, or run the thread command (`history`, `clear`, `help`) the text names."""
    if not question.text:
        await tell_asker(client, question, USAGE_HINT, usage_blocks("@Dexter", None))
        return
    command = command_of(question, services)
    if command is None:
        services.answerer.enqueue(question)
    elif command == "too long":
        await tell_asker(
            client,
            question,
            f"That question is {len(question.text):,} characters long; I can take up to "
            f"{services.max_question_chars:,}. Please shorten it and ask again.",
        )
    elif command == "history":
        await services.history.show_in_thread(question)
    elif command == "clear":
        await services.history.confirm_in_thread(question)
    else:
        await tell_asker(client, question, "How to use Dexter", usage_blocks("@Dexter help", None))


def command_of(
    question: Question, services: BotServices
) -> ThreadCommand | Literal["too long"] | None:
    """What to do instead of answering: a thread command, or refusing a question too long."""
    if len(question.text) > services.max_question_chars:
        return "too long"
    return question.command if question.mentioned or question.is_dm else None
