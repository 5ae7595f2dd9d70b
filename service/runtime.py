"""One running Dexter: the store, the agent on its research thread, and the Slack bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.app import SlackBot, SlackConfig, start_slack_bot
from service.research import ResearchThread
from settings import Settings
from stores import SessionStore

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 6 * 3600


class MissingSlackSettings(Exception):
    """The Slack app cannot start; the message says what to set."""


@dataclass
class Runtime:
    settings: Settings
    research: ResearchThread
    slack: SlackBot | None
    _purger: asyncio.Task[None] | None = field(default=None, repr=False)
    _drains: list[Callable[[], Awaitable[None]]] = field(default_factory=list, repr=False)

    @property
    def store(self) -> SessionStore:
        """The session store, usable from the web loop (it lives on the research loop)."""
        return self.research.store

    def drain_before_close(self, drain: Callable[[], Awaitable[None]]) -> None:
        """Have `close` wait for `drain()` (work in progress elsewhere) before closing."""
        self._drains.append(drain)

    def start_purging(self) -> None:
        """Purge sessions past the retention period now and every few hours."""
        self._purger = asyncio.create_task(self._purge_forever(), name="purge expired sessions")

    async def _purge_forever(self) -> None:
        while True:
            try:
                removed = await self.store.purge_expired()
                if removed:
                    log.info("purged %d expired sessions", removed)
            except Exception:
                log.exception("purging expired sessions failed; will try again")
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)

    async def close(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        if self.slack is not None:
            await self.slack.close()
        for drain in self._drains:
            await drain()
        await self.research.close()


def slack_config(settings: Settings, *, socket_mode: bool) -> SlackConfig:
    """The Slack settings, or one clear message naming what is missing."""
    missing = []
    if settings.slack_bot_token is None:
        missing.append("SLACK_BOT_TOKEN (the Bot User OAuth Token, xoxb-…)")
    if socket_mode and settings.slack_app_token is None:
        missing.append("SLACK_APP_TOKEN (an app-level token with connections:write, xapp-…)")
    if not socket_mode and settings.slack_signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET (Basic Information → Signing Secret)")
    if missing:
        raise MissingSlackSettings(
            "Dexter cannot connect to Slack. Set "
            + " and ".join(missing)
            + " in the environment or .env; README.md § Slack set-up shows where to find them."
        )
    secret = settings.slack_signing_secret
    return SlackConfig(
        bot_token=settings.slack_bot_token.get_secret_value(),  # type: ignore[union-attr]
        signing_secret=secret.get_secret_value() if secret else None,
        api_url=settings.slack_api_url,
        follow_up_without_mention=settings.dexter_follow_up_without_mention,
        progress_interval=settings.dexter_progress_interval,
        shutdown_grace=settings.dexter_shutdown_grace,
    )


async def open_runtime(settings: Settings, slack: SlackConfig | None) -> Runtime:
    research = ResearchThread()
    await research.start(settings)
    log.info("session store: %s", research.store.url)
    try:
        bot = await start_slack_bot(slack, research, research.store) if slack else None
    except BaseException:
        await research.close()
        raise
    return Runtime(settings, research, bot)
