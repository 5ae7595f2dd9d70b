"""The App Home tab's "Erase all my threads" button (its confirmation is Slack's dialog)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from bot.listener_services import BotServices
from stores import StoreUnavailable


async def erase_all_threads(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, services: BotServices
) -> None:
    await ack()
    user, team = (body.get("user") or {}).get("id"), context.team_id
    if not user or not team:
        return
    try:
        erased = await services.home.erase_all(user, team)
    except StoreUnavailable:
        note = (
            "Dexter's memory cannot be reached just now, so nothing was erased. Try again shortly."
        )
    else:
        note = f"Erased {erased} thread{'' if erased == 1 else 's'}."
    await services.home.publish(user, team, note)
