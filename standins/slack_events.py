"""What Slack sends an app: event, slash command and interaction payloads, signed.

`SlackSender` posts them over real HTTP to the app's `/slack/events`, with the
`X-Slack-Signature` and `X-Slack-Request-Timestamp` headers Slack computes from the
signing secret, exactly as Slack's servers do.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from standins.slack_api import APP_ID, BOT_USER_ID, TEAM_ID

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0CHANNEL"
USER = "U0ALICE"

_event_ids = itertools.count(1)
_ts = itertools.count(1)


def next_ts() -> str:
    """A fresh message ts, distinct from the Slack stand-in's own."""
    return f"1710000000.{next(_ts):06d}"


def sign(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def event_callback(event: dict[str, Any], *, team: str = TEAM_ID) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "team_id": team,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
    }


def mention(
    text: str,
    *,
    ts: str | None = None,
    thread_ts: str | None = None,
    channel: str = CHANNEL,
    user: str = USER,
) -> dict[str, Any]:
    """An `app_mention` event: `text` follows the bot's mention."""
    ts = ts or next_ts()
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER_ID}> {text}".strip(),
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": TEAM_ID,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(
    text: str,
    *,
    ts: str | None = None,
    thread_ts: str | None = None,
    channel: str = CHANNEL,
    user: str | None = USER,
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    """A `message` event as `message.channels` / `message.im` deliver it."""
    ts = ts or next_ts()
    event = {
        "type": "message",
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
        "team": TEAM_ID,
        **extra,
    }
    if user is not None:
        event["user"] = user
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


class SlackSender:
    """Sends signed requests to the app under test, as Slack's servers would."""

    def __init__(self, app_url: str, response_url: str, secret: str = SIGNING_SECRET) -> None:
        self.events_url = f"{app_url}/slack/events"
        self.response_url = response_url
        self.secret = secret
        self.http = httpx.AsyncClient(timeout=10)

    async def close(self) -> None:
        await self.http.aclose()

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        retry_num: int | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": content_type, **sign(body, secret or self.secret, timestamp)}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return await self.http.post(self.events_url, content=body, headers=headers)

    async def event(
        self, event: dict[str, Any], *, retry_num: int | None = None, envelope: dict | None = None
    ) -> httpx.Response:
        payload = envelope or event_callback(event)
        return await self.post(json.dumps(payload), "application/json", retry_num=retry_num)

    async def command(
        self, command: str, text: str = "", *, channel: str = CHANNEL, user: str = USER
    ) -> httpx.Response:
        form = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "example",
            "channel_id": channel,
            "channel_name": "research",
            "user_id": user,
            "user_name": "alice",
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": self.response_url,
            "trigger_id": "1234.5678.abcd",
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        channel: str = CHANNEL,
        user: str = USER,
        thread_ts: str | None = None,
    ) -> httpx.Response:
        """A button pressed on one of Dexter's messages."""
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": next_ts(),
            "channel_id": channel,
            "is_ephemeral": True,
        }
        if thread_ts:
            container["thread_ts"] = thread_ts
        where = {
            "channel": {"id": channel, "name": "research"},
            "container": container,
            "response_url": self.response_url,
        }
        return await self._block_action(action_id, value, user, where)

    async def click_in_home(
        self, action_id: str, value: str, *, user: str = USER
    ) -> httpx.Response:
        """A button pressed on the App Home tab: the container is the view, no channel."""
        where = {
            "container": {"type": "view", "view_id": "V00000001"},
            "view": {"id": "V00000001", "type": "home", "blocks": []},
        }
        return await self._block_action(action_id, value, user, where)

    async def _block_action(
        self, action_id: str, value: str, user: str, where: dict[str, Any]
    ) -> httpx.Response:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "team": {"id": TEAM_ID, "domain": "example"},
            **where,
            "trigger_id": "1234.5678.abcd",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": value,
                    "type": "button",
                    "action_ts": str(time.time()),
                }
            ],
        }
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )

    async def message_shortcut(
        self,
        callback_id: str,
        message_ts: str,
        *,
        thread_ts: str | None = None,
        channel: str = CHANNEL,
        user: str = USER,
    ) -> httpx.Response:
        message_body: dict[str, Any] = {"type": "message", "ts": message_ts, "user": user}
        if thread_ts:
            message_body["thread_ts"] = thread_ts
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "user": {"id": user, "team_id": TEAM_ID},
            "team": {"id": TEAM_ID, "domain": "example"},
            "channel": {"id": channel, "name": "research"},
            "message": message_body,
            "message_ts": message_ts,
            "response_url": self.response_url,
            "trigger_id": "1234.5678.abcd",
        }
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )
