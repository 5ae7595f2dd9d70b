"""Button clicks: show, page, clear, confirm, cancel, retry, stop, feedback, and the Home
tab's erase-all."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.actions.clear import cancel_clear, confirm_clear, request_clear
from bot.actions.feedback import rate_answer
from bot.actions.history import show_history, turn_page
from bot.actions.home import erase_all_threads
from bot.actions.retry import retry_question
from bot.actions.stop import stop_answer
from bot.blocks import (
    ACTION_CLEAR_CANCEL,
    ACTION_CLEAR_CONFIRM,
    ACTION_CLEAR_REQUEST,
    ACTION_FEEDBACK,
    ACTION_HISTORY_PAGE,
    ACTION_HISTORY_SHOW,
    ACTION_HOME_ERASE_ALL,
    ACTION_RETRY,
    ACTION_STOP,
)


def register(app: AsyncApp) -> None:
    app.action(ACTION_HISTORY_SHOW)(show_history)
    app.action(ACTION_HISTORY_PAGE)(turn_page)
    app.action(ACTION_CLEAR_REQUEST)(request_clear)
    app.action(ACTION_CLEAR_CONFIRM)(confirm_clear)
    app.action(ACTION_CLEAR_CANCEL)(cancel_clear)
    app.action(ACTION_RETRY)(retry_question)
    app.action(ACTION_STOP)(stop_answer)
    app.action(ACTION_HOME_ERASE_ALL)(erase_all_threads)
    app.action(re.compile(f"^{ACTION_FEEDBACK}(_good|_bad)?$"))(rate_answer)
