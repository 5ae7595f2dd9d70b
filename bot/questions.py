"""A Slack message event parsed into our own small value, or None when Dexter ignores it."""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from bot.threads import ThreadRef, is_slack_ts
from stores import slack_order

log = logging.getLogger(__name__)

ThreadCommand = Literal["history", "clear", "help"]

# Subtypes that still carry a person's new question; edits, deletions, joins, topic
# changes, bot messages and the like do not.
ANSWERABLE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})

_SLACK_LINK = re.compile(r"<(?P<target>[^<>|]+)(?:\|(?P<label>[^<>]*))?>")
_COMMANDS: dict[str, ThreadCommand] = {
    "history": "history",
    "memory": "history",
    "clear": "clear",
    "forget": "clear",
    "help": "help",
}


@dataclass(frozen=True, slots=True)
class Question:
    """A person's message that Dexter should answer (or treat as a thread command)."""

    thread: ThreadRef
    ts: str
    user: str
    text: str
    mentioned: bool
    is_dm: bool

    @property
    def event_key(self) -> str:
        """One key per Slack message, whichever event (mention, message, retry) carried it."""
        return f"slack-message:{self.thread.team}:{self.thread.channel}:{self.ts}"

    @property
    def order(self) -> tuple[int, int]:
        """Where Slack put the message in the conversation."""
        return slack_order(self.ts)

    @property
    def in_thread(self) -> bool:
        return self.thread.thread_ts != self.ts

    def to_json(self) -> str:
        """The question as the shared store keeps it until answered (`stores.Inbox`)."""
        thread = self.thread
        return json.dumps(
            {
                "team": thread.team,
                "channel": thread.channel,
                "thread_ts": thread.thread_ts,
                "ts": self.ts,
                "user": self.user,
                "text": self.text,
                "mentioned": self.mentioned,
                "is_dm": self.is_dm,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str) -> Question:
        """The question `to_json` wrote; `ValueError` if it is not one."""
        try:
            fields = json.loads(raw)
            thread = ThreadRef.checked(fields["team"], fields["channel"], fields["thread_ts"])
            question = cls(
                thread=thread,
                ts=str(fields["ts"]),
                user=str(fields["user"]),
                text=str(fields["text"]),
                mentioned=bool(fields["mentioned"]),
                is_dm=bool(fields["is_dm"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a stored question: {exc!r}") from exc
        if not is_slack_ts(question.ts):
            raise ValueError(f"not a stored question: ts {question.ts!r}")
        return question

    @property
    def command(self) -> ThreadCommand | None:
        """`@dexter history`, `@dexter clear`, `@dexter help`: the whole text is the word."""
        return _COMMANDS.get(self.text.strip().strip(".!?").lower())


def question_from_event(
    event: dict[str, Any], team_id: str | None, bot_user_id: str | None
) -> Question | None:
    """The question an `app_mention` or `message` event carries, or None to ignore it."""
    if event.get("subtype") not in ANSWERABLE_SUBTYPES:
        return None
    if event.get("bot_id") or event.get("bot_profile"):
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    # The installation's team, not the author's: in a Slack Connect channel people of
    # other organisations write in the same thread, which must stay one session.
    team = team_id or event.get("team")
    if not (user and channel and ts and team) or user == bot_user_id:
        return None
    if not is_slack_ts(str(ts)):
        return None
    try:
        thread = ThreadRef.checked(str(team), str(channel), str(event.get("thread_ts") or ts))
    except ValueError as exc:
        log.warning("ignoring a message with an odd id: %s", exc)
        return None
    raw = str(event.get("text") or "")
    mention = f"<@{bot_user_id}>" if bot_user_id else None
    mentioned = event.get("type") == "app_mention" or bool(mention and mention in raw)
    return Question(
        thread=thread,
        ts=ts,
        user=user,
        text=clean_text(raw, bot_user_id),
        mentioned=mentioned,
        is_dm=event.get("channel_type") == "im" or str(channel).startswith("D"),
    )


def clean_text(text: str, bot_user_id: str | None) -> str:
    """The message as the model should read it: no bot mention, links and entities decoded."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")

    def readable(match: re.Match[str]) -> str:
        target, label = match.group("target"), match.group("label")
        if target.startswith(("@", "#", "!")):
            return label or target
        return f"{label} ({target})" if label and label != target else target

    text = _SLACK_LINK.sub(readable, text)
    return " ".join(html.unescape(text).split())
