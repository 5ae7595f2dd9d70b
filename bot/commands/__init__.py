"""Slash commands: `/dexter-history [thread link]` and `/dexter-clear [thread link]`.

Slack sends no thread with a slash command, so a thread is named by its link; without
one, the channel's recent Dexter threads are offered. Both answer only the requester.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.commands.thread_commands import CLEAR_COMMAND, HISTORY_COMMAND, offer_clear, show_history

__all__ = ["CLEAR_COMMAND", "HISTORY_COMMAND", "register"]


def register(app: AsyncApp) -> None:
    app.command(HISTORY_COMMAND)(show_history)
    app.command(CLEAR_COMMAND)(offer_clear)
