"""Event listeners: mentions and messages become questions; thread commands act at once."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.events.assistant import (
    on_assistant_thread_context_changed,
    on_assistant_thread_started,
)
from bot.events.home import on_app_home_opened
from bot.events.questions import on_question, take_mention, take_message


def register(app: AsyncApp) -> None:
    app.event("app_mention", middleware=[take_mention])(on_question)
    app.event("assistant_thread_started")(on_assistant_thread_started)
    app.event("assistant_thread_context_changed")(on_assistant_thread_context_changed)
    app.event("message", middleware=[take_message])(on_question)
    app.event("app_home_opened")(on_app_home_opened)
