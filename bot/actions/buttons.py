"""Where a click on one of Dexter's buttons came from, and the listener most buttons share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.blocks import Blocks
from bot.ephemeral_replies import respond_ephemerally
from bot.listener_services import BotServices
from bot.thread_history import ThreadView, authorize
from bot.threads import ThreadRef

ButtonListener = Callable[..., Awaitable[None]]


def clicked_thread(body: dict[str, Any], session_id: str) -> ThreadRef:
    """The button's thread, if it belongs to the conversation the click came from."""
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
    team = (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id")
    return authorize(session_id, str(team), str(channel))


def thread_button(label: str, view: ThreadView) -> ButtonListener:
    """The listener of a button whose value is a session id: `view` of that thread, shown
    in place of the message the button was on."""

    async def on_click(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        services: BotServices,
    ) -> None:
        async def produce() -> Blocks:
            return await view(services.history, clicked_thread(body, action["value"]))

        await respond_ephemerally(ack, respond, produce, command=label, replace_original=True)

    return on_click
