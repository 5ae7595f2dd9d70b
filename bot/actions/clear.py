"""Clear buttons: ask to erase a thread's memory, erase it, or think better of it."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.actions.buttons import thread_button
from bot.memory import ThreadMemory

request_clear = thread_button("Clear", ThreadMemory.clear_confirmation)
confirm_clear = thread_button("Erase", ThreadMemory.clear)


async def cancel_clear(ack: AsyncAck, respond: AsyncRespond) -> None:
    await ack()
    await respond(delete_original=True)
