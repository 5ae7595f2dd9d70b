"""The message shortcut "Clear Dexter's memory of this thread"."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.blocks import Blocks
from bot.ephemeral_replies import respond_ephemerally
from bot.listener_services import BotServices
from bot.threads import AccessDenied, ThreadRef

CLEAR_THREAD_CALLBACK = "dexter_clear_thread"


async def offer_clear_of_thread(
    ack: AsyncAck, shortcut: dict[str, Any], respond: AsyncRespond, services: BotServices
) -> None:
    async def produce() -> Blocks:
        message = shortcut.get("message") or {}
        try:
            thread = ThreadRef.checked(
                str(shortcut["team"]["id"]),
                str(shortcut["channel"]["id"]),
                str(message.get("thread_ts") or message["ts"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AccessDenied("that message is not in a thread Dexter can clear") from exc
        return await services.history.clear_confirmation(thread)

    await respond_ephemerally(ack, respond, produce, command="Clear Dexter's memory")
