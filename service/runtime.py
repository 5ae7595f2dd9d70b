"""One running Dexter: the research service (agent and store) and the Slack bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agent import ResearchService
from agent.factory import build_agent
from bot.app import SlackBot, SlackConfig, start_slack_bot
from service.configs import research_config, store_options
from settings import Settings
from stores import open_store

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 6 * 3600


@dataclass
class Runtime:
    settings: Settings
    research: ResearchService
    slack: SlackBot | None
    _purger: asyncio.Task[None] | None = field(default=None, repr=False)
    _drains: list[Callable[[], Awaitable[None]]] = field(default_factory=list, repr=False)

    def drain_before_close(self, drain: Callable[[], Awaitable[None]]) -> None:
        """Have `close` wait for `drain()` (work in progress elsewhere) before closing."""
        self._drains.append(drain)

    def start_purging(self) -> None:
        """Purge sessions past the retention period now and every few hours."""
        self._purger = asyncio.create_task(self._purge_forever(), name="purge expired sessions")

    async def _purge_forever(self) -> None:
        while True:
            try:
                removed = await self.research.purge_expired()
                if removed:
                    log.info("purged %d expired sessions", removed)
            except Exception:
                log.exception("purging expired sessions failed; will try again")
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)

    async def drain(self) -> None:
        """Wait for the work `drain_before_close` named (the HTTP API's runs)."""
        for drain in self._drains:
            await drain()

    async def close(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        if self.slack is not None:
            await self.slack.close()
        await self.drain()
        await self.research.close()


def research_service(
    settings: Settings, kind: type[ResearchService] = ResearchService
) -> ResearchService:
    """The agent and the store the settings describe, built on the research loop."""
    return kind(
        lambda: build_agent(research_config(settings)),
        lambda: open_store(settings.store_url, **store_options(settings)),
    )


async def open_runtime(
    settings: Settings, slack: SlackConfig | None, research: ResearchService | None = None
) -> Runtime:
    """Start the research service (the settings' own unless given) and the Slack bot."""
    research = research or research_service(settings)
    await research.start()
    log.info("session store: %s", research.store_url)
    try:
        bot = await start_slack_bot(slack, research) if slack else None
    except BaseException:
        await research.close()
        raise
    return Runtime(settings, research, bot)
