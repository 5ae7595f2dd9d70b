"""Message shortcuts: "Clear Dexter's memory of this thread"."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.shortcuts.clear_thread import CLEAR_THREAD_CALLBACK, offer_clear_of_thread

__all__ = ["CLEAR_THREAD_CALLBACK", "register"]


def register(app: AsyncApp) -> None:
    app.shortcut(CLEAR_THREAD_CALLBACK)(offer_clear_of_thread)
