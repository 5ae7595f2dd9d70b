"""The Slack app: a Bolt `AsyncApp` with our listeners, over a retrying Web API client."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from agent import Agent
from bot import actions, commands, events, shortcuts
from bot.answering import AnsweringConfig, ThreadAnswerer
from bot.memory import ThreadMemory
from bot.services import BotServices
from stores import SessionStore


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str
    signing_secret: str | None
    api_url: str = "https://slack.com/api/"
    follow_up_without_mention: bool = True
    progress_interval: float = 1.2


@dataclass(frozen=True, slots=True)
class SlackBot:
    app: AsyncApp
    answerer: ThreadAnswerer


def web_client(config: SlackConfig) -> AsyncWebClient:
    """slack_sdk's client with its retry handlers: `Retry-After` on 429, 5xx, resets."""
    return AsyncWebClient(
        token=config.bot_token,
        base_url=config.api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_slack_bot(config: SlackConfig, agent: Agent, store: SessionStore) -> SlackBot:
    client = web_client(config)
    app = AsyncApp(
        client=client,
        signing_secret=config.signing_secret,
        request_verification_enabled=config.signing_secret is not None,
        process_before_response=False,
    )
    answerer = ThreadAnswerer(
        agent, store, client, AnsweringConfig(progress_interval=config.progress_interval)
    )
    services = BotServices(
        answerer=answerer,
        memory=ThreadMemory(store, client),
        follow_up_without_mention=config.follow_up_without_mention,
    )
    for listeners in (events, commands, actions, shortcuts):
        listeners.register(app, services)
    return SlackBot(app, answerer)
