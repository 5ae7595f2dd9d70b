"""Socket Mode: events arrive over Slack's websocket, are acknowledged, and get answers."""

from __future__ import annotations

import asyncio

from bot.app import socket_mode_handler
from service.configs import slack_config
from service.runtime import open_runtime
from standins.slack_api import APP_TOKEN, BOT_TOKEN
from standins.slack_events import event_callback, mention
from tests.bot.observe import answers, wait_until


async def test_socket_mode_acks_events_and_answers_in_the_thread(
    make_settings, clean_slack_api, model
) -> None:
    settings = make_settings(
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_api_url=clean_slack_api.url,
        dexter_store_url="memory://",
        dexter_progress_interval=0.05,
        dexter_embeddings="lexical",
    )
    runtime = await open_runtime(settings, slack_config(settings, socket_mode=True))
    handler = socket_mode_handler(runtime.slack, APP_TOKEN)
    try:
        await handler.connect_async()
        await wait_until(lambda: clean_slack_api.socket_connected)
        question = mention("What was Apple's revenue in 2023?")

        envelope = await asyncio.to_thread(clean_slack_api.send_envelope, event_callback(question))

        await wait_until(
            lambda: any(m.get("envelope_id") == envelope for m in clean_slack_api.socket_messages())
        )
        await wait_until(lambda: answers(clean_slack_api, question["ts"]))
        opened = clean_slack_api.calls("apps.connections.open")
        assert opened and opened[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"
    finally:
        await handler.close_async()
        await runtime.close()
