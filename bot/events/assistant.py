"""Slack's AI-app container: a new assistant thread, or one whose person moved to another
channel, is offered questions: Dexter's recent research in the channel they are viewing,
else a few first questions."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncBoltContext

from bot.assistant_threads import STARTER_PROMPTS, channel_prompts
from bot.listener_services import BotServices
from bot.threads import ThreadRef, channel_scope, is_slack_id
from stores import StoreUnavailable

log = logging.getLogger(__name__)

SEEDED_FROM_CHANNEL = 3
"""Recent threads of the viewed channel offered again; the starters fill the rest."""


async def on_assistant_thread_started(
    event: dict[str, Any], context: AsyncBoltContext, services: BotServices
) -> None:
    await offer_prompts(event, context, services)


async def on_assistant_thread_context_changed(
    event: dict[str, Any], context: AsyncBoltContext, services: BotServices
) -> None:
    await offer_prompts(event, context, services)


async def offer_prompts(
    event: dict[str, Any], context: AsyncBoltContext, services: BotServices
) -> None:
    """Prompts seeded by the channel the person is viewing, which they can see."""
    about = event.get("assistant_thread") or {}
    viewing = about.get("context") or {}
    team = str(viewing.get("team_id") or context.team_id or "")
    try:
        thread = ThreadRef.checked(team, str(about.get("channel_id")), str(about.get("thread_ts")))
    except ValueError as exc:
        log.warning("ignoring an assistant thread event with odd ids: %s", exc)
        return
    prompts, title = STARTER_PROMPTS, "Try asking"
    channel = str(viewing.get("channel_id") or "")
    if is_slack_id(channel) and not channel.startswith("D"):
        try:
            recent = await services.history.research.threads(
                channel_scope(team, channel), SEEDED_FROM_CHANNEL
            )
        except StoreUnavailable as exc:
            log.warning("no channel prompts while the store is down: %s", exc)
            recent = []
        if recent:
            prompts, title = channel_prompts(recent), "Pick up Dexter's research in this channel"
    await services.assistant.suggest(thread, prompts, title)
