"""Event listeners: mentions and messages become questions; thread commands act at once."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.events.assistant import on_assistant_thread_started
from bot.events.questions import on_mention, on_message


def register(app: AsyncApp) -> None:
    app.event("app_mention")(on_mention)
    app.event("assistant_thread_started")(on_assistant_thread_started)
    app.event("message")(on_message)
