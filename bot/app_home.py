"""The App Home tab: a person's recent Dexter threads, what Dexter keeps, erase-all.

Only threads the person asked in are listed, and of those only the ones in conversations
they are still a member of (`users.conversations`), so leaving a channel hides its threads
here too. Erasing goes through the same path as `/dexter-clear`, thread by thread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent import ResearchService
from bot.blocks import home_blocks
from bot.thread_history import ThreadHistory
from bot.threads import ThreadRef
from stores import SessionInfo, StoreUnavailable

log = logging.getLogger(__name__)

CANDIDATES = 100
"""Threads a person asked in that are checked against their memberships."""
CONVERSATION_TYPES = "public_channel,private_channel,mpim,im"


class AppHome:
    def __init__(
        self, research: ResearchService, history: ThreadHistory, *, retention_days: float
    ) -> None:
        self.research = research
        self.history = history
        self.client: AsyncWebClient = history.client
        self.retention_days = retention_days

    async def publish(self, user: str, team: str, note: str | None = None) -> None:
        """Show `user` their Home tab as it stands now."""
        try:
            threads = await self.visible_threads(user, team)
        except StoreUnavailable as exc:
            log.warning("App Home without threads, the store is down: %s", exc)
            threads = []
            note = note or "Dexter's memory cannot be reached just now; try again shortly."
        links = await asyncio.gather(
            *(self.history.permalink(ThreadRef.from_session_id(s.session_id)) for s in threads)
        )
        permalinks = {s.session_id: link for s, link in zip(threads, links, strict=True)}
        view = {
            "type": "home",
            "blocks": home_blocks(
                threads, permalinks, retention_days=self.retention_days, note=note
            ),
        }
        await self.client.views_publish(user_id=user, view=view)

    async def erase_all(self, user: str, team: str) -> int:
        """Erase every thread `user` sees on their Home tab; returns how many went."""
        threads = await self.visible_threads(user, team)
        for thread in threads:
            await self.research.erase(thread.session_id)
        log.info("erased %d threads from the App Home of %s", len(threads), user)
        return len(threads)

    async def visible_threads(self, user: str, team: str) -> list[SessionInfo]:
        """Threads of this workspace `user` asked in, in conversations they are still in."""
        asked = await self.research.threads_of(user, CANDIDATES)
        member_of = await self._conversations_of(user)
        visible = []
        for session in asked:
            try:
                thread = ThreadRef.from_session_id(session.session_id)
            except ValueError:
                continue  # an API session, or a malformed id
            if thread.team == team and thread.channel in member_of:
                visible.append(session)
        return visible

    async def _conversations_of(self, user: str) -> set[str]:
        """Every conversation `user` is a member of that Dexter can see; none if Slack
        will not say (a missing scope), so nothing is shown rather than too much."""
        channels: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                page: Any = await self.client.users_conversations(
                    user=user,
                    types=CONVERSATION_TYPES,
                    exclude_archived=True,
                    limit=200,
                    cursor=cursor,
                )
                channels.update(c["id"] for c in page.get("channels", []) if c.get("id"))
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return channels
        except SlackApiError as exc:
            log.warning("cannot list %s's conversations: %s", user, exc.response.get("error"))
            return set()
