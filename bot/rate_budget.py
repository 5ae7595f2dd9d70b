"""A token bucket: how often one Slack method may be called by the whole app.

Slack rate-limits each method per workspace, not per message, so every thread's calls of
one method draw from one bucket; a call that finds it empty is skipped (or deferred) by
its caller instead of being sent into a 429.
"""

from __future__ import annotations

import time


class RateBudget:
    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self.paused_until = 0.0
        """Slack's `Retry-After`: nothing is spent before this (monotonic) time."""
        self._tokens = float(burst)
        self._refilled = time.monotonic()

    def take(self) -> bool:
        """Spend one call if the budget allows it now."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.per_second)
        self._refilled = now
        if now < self.paused_until or self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def pause(self, seconds: float) -> None:
        self.paused_until = time.monotonic() + seconds
