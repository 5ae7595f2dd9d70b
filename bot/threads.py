"""Slack threads as sessions: `ThreadRef`, session ids and thread links.

A thread is `(team, channel, thread_ts)`; its session id is
`slack:{team}:{channel}:{thread_ts}`. Users point slash commands at a thread with the link
Slack's "Copy link" gives, e.g.
`https://acme.slack.com/archives/C0123ABC/p1700000000000100?thread_ts=1699999999.000200`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

SESSION_PREFIX = "slack"

_TS = re.compile(r"^\d{9,11}\.\d{6}$")
_ID = re.compile(r"^[A-Z0-9]{2,20}$")
_ARCHIVE_PATH = re.compile(r"^/archives/(?P<channel>[A-Z0-9]+)/p(?P<digits>\d{16})/?$")


class AccessDenied(PermissionError):
    """The session belongs to another channel or workspace than the request."""


class InvalidThreadLink(ValueError):
    """The text is not a Slack message link; the message says what a link looks like."""


@dataclass(frozen=True, slots=True)
class ThreadRef:
    """One Slack thread: the team, the channel (or DM) and the ts of its first message."""

    team: str
    channel: str
    thread_ts: str

    @property
    def session_id(self) -> str:
        return f"{SESSION_PREFIX}:{self.team}:{self.channel}:{self.thread_ts}"

    @property
    def scope(self) -> str:
        """The store scope listing this channel's threads (see `stores.scope_of`)."""
        return channel_scope(self.team, self.channel)

    @classmethod
    def checked(cls, team: str, channel: str, thread_ts: str) -> ThreadRef:
        """The thread, if its parts look like Slack's ids and timestamp; else ValueError."""
        if not (is_slack_id(team) and is_slack_id(channel) and is_slack_ts(thread_ts)):
            raise ValueError(f"not a Slack thread: {team!r}, {channel!r}, {thread_ts!r}"[:200])
        return cls(team, channel, thread_ts)

    @classmethod
    def from_session_id(cls, session_id: str) -> ThreadRef:
        parts = session_id.split(":")
        if len(parts) != 4 or parts[0] != SESSION_PREFIX:
            raise ValueError(f"not a Slack session id: {session_id[:200]!r}")
        return cls.checked(*parts[1:])


def is_slack_id(text: str) -> bool:
    """`T0123ABC`, `C0123ABC`, `U0123ABC`: upper-case letters and digits."""
    return bool(_ID.match(text))


def is_slack_ts(text: str) -> bool:
    """`1700000000.000100`: seconds, a dot, six digits."""
    return bool(_TS.match(text))


def channel_scope(team: str, channel: str) -> str:
    return f"{SESSION_PREFIX}:{team}:{channel}"


def parse_thread_link(text: str, team: str) -> ThreadRef:
    """The thread a pasted Slack message link points at (the thread's root, for a reply)."""
    link = text.strip().strip("<>").split("|", 1)[0]
    parts = urlsplit(link)
    found = _ARCHIVE_PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or not parts.netloc or found is None:
        raise InvalidThreadLink(
            "that is not a Slack message link; use a message's “Copy link”, which looks like "
            "https://your-team.slack.com/archives/C0123ABC/p1700000000000100"
        )
    digits = found.group("digits")
    message_ts = f"{digits[:10]}.{digits[10:]}"
    thread_ts = parse_qs(parts.query).get("thread_ts", [message_ts])[0]
    if not is_slack_ts(thread_ts):
        raise InvalidThreadLink(f"the link's thread_ts {thread_ts!r} is not a Slack timestamp")
    return ThreadRef(team, found.group("channel"), thread_ts)
