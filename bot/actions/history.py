"""History buttons: show a thread's memory, and page through it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.actions.buttons import clicked_thread, thread_button
from bot.blocks import Blocks, parse_history_page_value
from bot.ephemeral_replies import respond_ephemerally
from bot.listener_services import BotServices
from bot.thread_history import ThreadHistory
from bot.threads import AccessDenied

show_history = thread_button("Show", ThreadHistory.thread_page)


async def turn_page(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    services: BotServices,
) -> None:
    """A page button carries its thread and page number (`history_page_value`)."""

    async def produce() -> Blocks:
        try:
            session_id, number = parse_history_page_value(action["value"])
        except ValueError as exc:
            raise AccessDenied("that page button is not Dexter's") from exc
        return await services.history.thread_page(clicked_thread(body, session_id), number)

    await respond_ephemerally(ack, respond, produce, command="Page", replace_original=True)
