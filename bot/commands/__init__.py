"""Slash commands: `/dexter-history [thread link]` and `/dexter-clear [thread link]`.

Slack sends no thread with a slash command, so a thread is named by its link; without
one, the channel's recent Dexter threads are offered. Both answer only the requester.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.memory import authorize
from bot.responding import Blocks, respond_with
from bot.services import BotServices
from bot.threads import ThreadRef, parse_thread_link

HISTORY_COMMAND = "/dexter-history"
CLEAR_COMMAND = "/dexter-clear"


def register(app: AsyncApp, services: BotServices) -> None:
    memory = services.memory

    @app.command(HISTORY_COMMAND)
    async def history(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()

        async def produce() -> Blocks:
            thread = linked_thread(command)
            if thread is None:
                return await memory.channel_threads(command["team_id"], command["channel_id"])
            return await memory.thread_page(thread)

        await respond_with(respond, produce, command=HISTORY_COMMAND)

    @app.command(CLEAR_COMMAND)
    async def clear(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()

        async def produce() -> Blocks:
            thread = linked_thread(command)
            if thread is None:
                return await memory.channel_threads(command["team_id"], command["channel_id"])
            return await memory.clear_confirmation(thread)

        await respond_with(respond, produce, command=CLEAR_COMMAND)


def linked_thread(command: dict[str, Any]) -> ThreadRef | None:
    """The thread the command's argument links to, checked against the command's channel."""
    text = (command.get("text") or "").strip()
    if not text:
        return None
    team, channel = command["team_id"], command["channel_id"]
    thread = parse_thread_link(text.split()[0], team)
    return authorize(thread.session_id, team, channel)
