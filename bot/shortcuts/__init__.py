"""The message shortcut "Clear Dexter's memory of this thread"."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.responding import Blocks, respond_with
from bot.services import BotServices
from bot.threads import ThreadRef

CLEAR_THREAD_CALLBACK = "dexter_clear_thread"


def register(app: AsyncApp, services: BotServices) -> None:
    @app.shortcut(CLEAR_THREAD_CALLBACK)
    async def clear_thread(ack: AsyncAck, shortcut: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()

        async def produce() -> Blocks:
            message = shortcut.get("message") or {}
            thread = ThreadRef(
                shortcut["team"]["id"],
                shortcut["channel"]["id"],
                message.get("thread_ts") or message["ts"],
            )
            return await services.memory.clear_confirmation(thread)

        await respond_with(respond, produce, command="Clear Dexter's memory")
