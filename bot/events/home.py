"""The App Home tab, published whenever the person opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncBoltContext

from bot.listener_services import BotServices


async def on_app_home_opened(
    event: dict[str, Any], context: AsyncBoltContext, services: BotServices
) -> None:
    if event.get("tab") == "home" and event.get("user") and context.team_id:
        await services.home.publish(str(event["user"]), context.team_id)
