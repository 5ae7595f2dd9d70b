"""Showing and erasing a thread's memory, for slash commands, buttons and thread commands.

Access rule: a request reaches only sessions of the channel (or DM) it was made in, so a
person can read or clear only the memory of a conversation they can see. Every entry
point calls `authorize` with the channel Slack says the request came from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent import ResearchService
from bot.blocks import (
    MAX_TURNS_PER_PAGE,
    Blocks,
    clear_confirm_blocks,
    cleared_blocks,
    history_list_blocks,
    thread_turns_blocks,
)
from bot.ephemeral_replies import tell_asker
from bot.questions import Question
from bot.threads import AccessDenied, ThreadRef, channel_scope

log = logging.getLogger(__name__)

LISTED_THREADS = 10
THREAD_MESSAGES_READ = 200
PAGE_SIZE = 5


ThreadView = Callable[["ThreadHistory", ThreadRef], Awaitable[Blocks]]
"""What a command or button shows of a thread: one of `ThreadHistory`'s views."""


def authorize(session_id: str, team: str, channel: str) -> ThreadRef:
    """The thread of `session_id` if the request's team and channel may see it."""
    try:
        thread = ThreadRef.from_session_id(session_id)
    except ValueError as exc:
        raise AccessDenied("that is not one of Dexter's threads") from exc
    if thread.team != team or thread.channel != channel:
        raise AccessDenied("that thread is in another conversation; run the command there")
    return thread


class ThreadHistory:
    """The research and Slack calls behind `/dexter-history`, `/dexter-clear` and their
    buttons; each reads only the turns it shows."""

    def __init__(self, research: ResearchService, client: AsyncWebClient) -> None:
        self.research = research
        self.client = client

    async def has_turns(self, session_id: str) -> bool:
        return (await self.research.history(session_id, limit=0)).total > 0

    async def channel_threads(self, team: str, channel: str) -> Blocks:
        """The channel's recent Dexter threads with links, Show and Clear buttons."""
        listed = await self.research.threads(channel_scope(team, channel), LISTED_THREADS)
        sessions = [s for s in listed if _is_thread(s.session_id)]
        links = await asyncio.gather(
            *(self.permalink(ThreadRef.from_session_id(s.session_id)) for s in sessions)
        )
        permalinks = {s.session_id: link for s, link in zip(sessions, links, strict=True)}
        return history_list_blocks(sessions, permalinks)

    async def thread_page(self, thread: ThreadRef, page: int = 1) -> Blocks:
        """One page of the thread's turns, newest first (page 1 the newest; a page past
        the end shows the oldest). Seqs run 1, 2, 3, …, so page `n` is the turns below
        seq `total - (n - 1) * PAGE_SIZE + 1`."""
        shown = await self.research.history(thread.session_id, limit=PAGE_SIZE)
        page = min(max(page, 1), max(1, -(-shown.total // PAGE_SIZE)))
        if page > 1:
            before = shown.total - (page - 1) * PAGE_SIZE + 1
            shown = await self.research.history(thread.session_id, limit=PAGE_SIZE, before=before)
        return thread_turns_blocks(
            thread.session_id,
            shown.turns,
            page,
            min(PAGE_SIZE, MAX_TURNS_PER_PAGE),
            shown.total,
            await self.permalink(thread),
        )

    async def clear_confirmation(self, thread: ThreadRef) -> Blocks:
        """The confirmation names the thread by its first question (seq 1)."""
        first = await self.research.history(thread.session_id, limit=1, before=2)
        question = first.turns[0].question if first.turns else None
        return clear_confirm_blocks(thread.session_id, question, first.total)

    async def clear(self, thread: ThreadRef) -> Blocks:
        """Erase the thread's memory; an answer in progress finishes first and goes too."""
        removed = await self.research.erase(thread.session_id)
        log.info("cleared %d turns of %s", removed, thread.session_id)
        return cleared_blocks(removed)

    async def show_in_thread(self, question: Question) -> None:
        """`@dexter history` inside a thread: its turns, to the asker only."""
        await tell_asker(
            self.client, question, "What Dexter remembers", await self.thread_page(question.thread)
        )

    async def confirm_in_thread(self, question: Question) -> None:
        """`@dexter clear` inside a thread: the confirmation, to the asker only."""
        blocks = await self.clear_confirmation(question.thread)
        await tell_asker(self.client, question, "Erase Dexter's memory of this thread?", blocks)

    async def dexter_wrote_in(self, thread: ThreadRef, bot_user_id: str | None) -> bool:
        """Whether the thread holds a message of Dexter's, by Slack's copy of it."""
        if bot_user_id is None:
            return False
        try:
            replies = await self.client.conversations_replies(
                channel=thread.channel, ts=thread.thread_ts, limit=THREAD_MESSAGES_READ
            )
        except SlackApiError as exc:
            log.warning("cannot read %s: %s", thread.session_id, exc.response.get("error"))
            return False
        messages: list[dict[str, Any]] = replies.get("messages", [])
        return any(m.get("user") == bot_user_id for m in messages)

    async def permalink(self, thread: ThreadRef) -> str | None:
        try:
            response = await self.client.chat_getPermalink(
                channel=thread.channel, message_ts=thread.thread_ts
            )
        except SlackApiError as exc:
            log.info("no permalink for %s: %s", thread.session_id, exc.response.get("error"))
            return None
        return response.get("permalink")


def _is_thread(session_id: str) -> bool:
    """Whether a listed session is a well-formed Slack thread; others are left out."""
    try:
        ThreadRef.from_session_id(session_id)
    except ValueError:
        log.warning("leaving an odd session id out of the list: %.200r", session_id)
        return False
    return True
