"""The Stop button shown while an answer is researched."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.ephemeral_replies import reply_to_requester
from bot.listener_services import BotServices


async def stop_answer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    services: BotServices,
) -> None:
    """Cancel the answer the button belongs to; its message then says it was stopped."""
    await ack()
    who = str((body.get("user") or {}).get("id"))
    if not services.answerer.stop(str(action.get("value")), by=who):
        await reply_to_requester(respond, "That answer has already finished.")
