"""The two slash commands, each a view of the thread its link names (or of the channel)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.blocks import Blocks
from bot.ephemeral_replies import respond_ephemerally
from bot.listener_services import BotServices
from bot.thread_history import ThreadHistory, ThreadView, authorize
from bot.threads import ThreadRef, parse_thread_link

HISTORY_COMMAND = "/dexter-history"
CLEAR_COMMAND = "/dexter-clear"

CommandListener = Callable[..., Awaitable[None]]


def linked_thread(command: dict[str, Any]) -> ThreadRef | None:
    """The thread the command's argument links to, checked against the command's channel."""
    text = (command.get("text") or "").strip()
    if not text:
        return None
    team, channel = command["team_id"], command["channel_id"]
    thread = parse_thread_link(text.split()[0], team)
    return authorize(thread.session_id, team, channel)


def thread_command(name: str, view: ThreadView) -> CommandListener:
    """The listener of a command taking a thread link: `view` of that thread; without a
    link, the channel's recent Dexter threads to choose from."""

    async def on_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, services: BotServices
    ) -> None:
        async def produce() -> Blocks:
            thread = linked_thread(command)
            if thread is None:
                return await services.history.channel_threads(
                    command["team_id"], command["channel_id"]
                )
            return await view(services.history, thread)

        await respond_ephemerally(ack, respond, produce, command=name)

    return on_command


show_history = thread_command(HISTORY_COMMAND, ThreadHistory.thread_page)
offer_clear = thread_command(CLEAR_COMMAND, ThreadHistory.clear_confirmation)
