"""Releasing a shared lock after its server came back, instead of letting it expire.

When the store goes away while an answer holds a thread's lock, the release fails and the
lock would stay until it expires (`lock_ttl`, a minute by default), holding up the next
answer in that thread with nothing to show for it. Instead the release is tried again in
the background, more slowly each time, until it succeeds or the lock has expired anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 5.0


class LateReleases:
    """Background retries of releases that failed; `close` stops the ones still waiting."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def retry(self, release: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
        """Call `release` until it returns True (released, or no longer ours) or `within`
        seconds have passed; it returns False while the server cannot be reached."""
        task = asyncio.create_task(self._retry(release, within, what), name=f"release {what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retry(
        self, release: Callable[[], Awaitable[bool]], within: float, what: str
    ) -> None:
        deadline = time.monotonic() + within
        pause = FIRST_RETRY_SECONDS
        while time.monotonic() + pause < deadline:
            await asyncio.sleep(pause)
            if await release():
                log.info("released %s once its store was back", what)
                return
            pause = min(2 * pause, MAX_RETRY_SECONDS)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
