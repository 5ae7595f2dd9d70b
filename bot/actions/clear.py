"""Clear buttons: ask to erase a thread's memory, erase it, or think better of it."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.actions.buttons import thread_button
from bot.thread_history import ThreadHistory

request_clear = thread_button("Clear", ThreadHistory.clear_confirmation)
confirm_clear = thread_button("Erase", ThreadHistory.clear)


async def cancel_clear(ack: AsyncAck, respond: AsyncRespond) -> None:
    await ack()
    await respond(delete_original=True)
