"""The Slack app: a Bolt `AsyncApp` with our listeners, over a retrying Web API client."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import (
    warning_client_prioritized_and_token_skipped,
    warning_token_skipped,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from agent import MAX_QUESTION_CHARS, ResearchService
from bot import actions, commands, events, shortcuts
from bot.answering import AnsweringConfig, ThreadAnswerer
from bot.app_home import AppHome
from bot.listener_services import BotServices
from bot.status_message import StatusUpdater
from bot.thread_history import ThreadHistory
from stores import DEFAULT_LOCK_TTL, DEFAULT_RETENTION_DAYS, SECONDS_PER_DAY


class _ExpectedTokenNotices(logging.Filter):
    """Drops Bolt's two warnings that the bot token will be ignored: Dexter hands Bolt an
    `authorize` on purpose (one `auth.test` at start-up), so they would only alarm."""

    NOTICES = frozenset({warning_token_skipped(), warning_client_prioritized_and_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.NOTICES


BOLT_LOGGER = logging.getLogger("slack_bolt.AsyncApp")
BOLT_LOGGER.addFilter(_ExpectedTokenNotices())


class SlackRefused(Exception):
    """Slack did not accept the bot token at start-up; the message says what it answered."""


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str
    signing_secret: str | None
    api_url: str = "https://slack.com/api/"
    follow_up_without_mention: bool = True
    streaming: bool = True
    """Stream answers with their plan (`chat.startStream`); False edits a status message."""
    charts: bool = True
    """Post a chart of the figures an answer rests on, when they form a series."""
    progress_interval: float = 1.2
    shutdown_grace: float = 20.0
    lease: float = DEFAULT_LOCK_TTL
    retention_days: float = DEFAULT_RETENTION_DAYS
    """How long an unused thread is kept, as the App Home tab tells people."""
    """Seconds after this process stops that others adopt its unanswered questions."""
    max_question_chars: int = MAX_QUESTION_CHARS


@dataclass(frozen=True, slots=True)
class SlackBot:
    app: AsyncApp
    answerer: ThreadAnswerer
    session: aiohttp.ClientSession
    config: SlackConfig

    async def close(self) -> None:
        await self.answerer.close(self.config.shutdown_grace)
        await self.session.close()


def socket_mode_handler(bot: SlackBot, app_token: str) -> AsyncSocketModeHandler:
    """Slack's Socket Mode connection for `bot`: events arrive over a websocket, no URL."""
    return AsyncSocketModeHandler(bot.app, app_token)


def web_client(
    config: SlackConfig, session: aiohttp.ClientSession, *, wait_out_rate_limits: bool = True
) -> AsyncWebClient:
    """slack_sdk's client with its retry handlers (`Retry-After` on 429, 5xx, resets),
    sharing one connection pool with every per-request client Bolt derives from it."""
    retries = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    if wait_out_rate_limits:
        retries.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    return AsyncWebClient(
        token=config.bot_token, base_url=config.api_url, session=session, retry_handlers=retries
    )


async def start_slack_bot(config: SlackConfig, research: ResearchService) -> SlackBot:
    """Check the token with `auth.test` once, then build the app around that identity.

    Bolt would otherwise call `auth.test` on the first request, before acknowledging it,
    and once per request arriving before that first answer.
    """
    session = aiohttp.ClientSession()
    client = web_client(config, session)
    try:
        identity = await client.auth_test()
    except SlackApiError as exc:
        await session.close()
        raise SlackRefused(
            f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')}); "
            "check the Bot User OAuth Token on the app's OAuth & Permissions page"
        ) from None
    except aiohttp.ClientError as exc:
        await session.close()
        raise SlackRefused(f"Slack's Web API at {config.api_url} is unreachable: {exc}") from None
    authorized = AuthorizeResult.from_auth_test_response(
        bot_token=config.bot_token, auth_test_response=identity
    )

    async def authorize(**_: Any) -> AuthorizeResult:
        return authorized

    app = AsyncApp(
        name="dexter",  # without a name Bolt walks the call stack (0.9 s) to make one up
        client=client,
        authorize=authorize,
        signing_secret=config.signing_secret,
        request_verification_enabled=config.signing_secret is not None,
        process_before_response=False,
    )
    answerer = ThreadAnswerer(
        research,
        client,
        StatusUpdater(web_client(config, session, wait_out_rate_limits=False)),
        AnsweringConfig(
            progress_interval=config.progress_interval,
            lease=config.lease,
            streaming=config.streaming,
            charts=config.charts,
            thread_memory=config.retention_days * SECONDS_PER_DAY,
        ),
    )
    await answerer.start()
    history = ThreadHistory(research, client)
    services = BotServices(
        answerer=answerer,
        history=history,
        assistant=answerer.assistant,
        home=AppHome(research, history, retention_days=config.retention_days),
        follow_up_without_mention=config.follow_up_without_mention,
        max_question_chars=config.max_question_chars,
    )
    app.middleware(services.attach)
    for listeners in (events, commands, actions, shortcuts):
        listeners.register(app)
    return SlackBot(app, answerer, session, config)
