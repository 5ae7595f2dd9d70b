"""A local stand-in for Slack's Web API: a real HTTP server that answers like Slack.

The bot talks to it through the real `slack_sdk` client (`AsyncWebClient(base_url=
server.url)`), so tests exercise the same requests, content types, retries and error
handling as production; nothing of ours is patched. The server runs aiohttp in a thread
with its own event loop (`BackgroundServer`), so it keeps answering while a test's loop is
busy or blocked.

It knows the methods Dexter calls, checks the bearer token, accepts form-encoded, JSON
and query-string parameters (slack_sdk uses all three: JSON for `chat.postMessage`,
query strings for `chat.getPermalink` and `chat.delete`), records every call, and refuses
what Slack refuses: over-long text (`msg_too_long`), malformed or oversized blocks
(`invalid_blocks`, `msg_blocks_too_long`), unknown channels when an allow-list is set,
and streams Slack would refuse (`standins.slack_streams`).
Tests can make the next calls of a method answer 429 with `Retry-After`, or fail.

Fixtures: `slack_api` (one server for the session) and `clean_slack_api` (the same
server, reset around the test). Register them from a conftest with
`from standins.slack_api import clean_slack_api_fixture, slack_api_fixture`; they are
declared with `name=` so importing them does not shadow the fixture arguments.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from standins import slack_streams
from standins.background import BackgroundServer

BOT_TOKEN = "xoxb-dexter-test-token"
APP_TOKEN = "xapp-1-dexter-test-token"
"""The app-level token Socket Mode connects with (`apps.connections.open`)."""
TEAM_ID = "T0001"
TEAM_DOMAIN = "example"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0DEXTER"

TEXT_LIMIT = 40_000
"""Slack truncates `text` past 40,000 characters; we refuse it with `msg_too_long`."""
MESSAGE_BLOCK_LIMIT = 50
SUGGESTED_PROMPTS_LIMIT = 4
ALT_TEXT_LIMIT = 1000
LOADING_MESSAGES_LIMIT = 10
VIEW_BLOCK_LIMIT = 100
SECTION_TEXT_LIMIT = 3000
SECTION_FIELD_LIMIT = 2000
SECTION_FIELDS = 10
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
HEADER_TEXT_LIMIT = 150
MARKDOWN_BLOCK_LIMIT = 12_000
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
URL_LIMIT = 3000
ID_LIMIT = 255
BLOCKS_TEXT_BUDGET = 12_000
"""Slack answers `msg_blocks_too_long` once a message's blocks hold about this much text in
total; the figure is undocumented (slackapi/bolt-js#2509, #2867), so this is an estimate."""

FIRST_TS = 1_700_000_000_000_100
"""The first `ts` handed out, in microseconds: "1700000000.000100"."""
TS_STEP = 100

_JSON_FIELDS = (
    "blocks",
    "attachments",
    "view",
    "prompts",
    "loading_messages",
    "metadata",
    "chunks",
    "files",
)
_TEXT_TYPES = ("plain_text", "mrkdwn")
_BLOCK_TYPES = {
    "actions",
    "context",
    "context_actions",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
}
_CHANNEL_PARAMS = ("channel", "channel_id")
_BEARER = re.compile(r"Bearer\s+(?P<token>\S+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SlackCall:
    """One request the stand-in received, and what it answered."""

    method: str
    """The Web API method (`chat.postMessage`), or `response_url` for a response URL post."""
    params: dict[str, Any]
    """Query, form and JSON parameters merged, JSON-valued form fields decoded."""
    headers: dict[str, str]
    time: float
    """`time.monotonic()` on arrival: compare calls with each other, not with the clock."""
    http_method: str
    path: str
    status: int
    response: Any


class SlackError(Exception):
    """An `{"ok": false}` answer, with Slack's error code and optional detail messages."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


@dataclass(slots=True)
class _Injected:
    """What the next calls of one method should answer instead of the real thing."""

    remaining: int
    error: str | None = None
    retry_after: int = 1


@dataclass(slots=True)
class _State:
    """Everything `reset()` forgets."""

    channels: set[str] | None = None
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    injected: dict[str, list[_Injected]] = field(default_factory=dict)
    next_ts: int = FIRST_TS
    next_view: int = 1
    members: dict[str, list[str]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_file: int = 1
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)


class SlackAPIServer:
    """Slack's Web API on a free loopback port, answering from a background thread."""

    def __init__(
        self, *, tokens: Iterable[str] = (BOT_TOKEN, APP_TOKEN), host: str = "127.0.0.1"
    ) -> None:
        self._host = host
        self._tokens = frozenset(tokens)
        self._state = _State()
        self._calls: list[SlackCall] = []
        self._changed = threading.Condition()
        self._server: BackgroundServer | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_messages: list[dict[str, Any]] = []
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.replies": self._conversations_replies,
            "assistant.threads.setStatus": self._assistant_set_status,
            "assistant.threads.setTitle": self._assistant_set_title,
            "assistant.threads.setSuggestedPrompts": self._assistant_set_suggested_prompts,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "users.conversations": self._users_conversations,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
        }

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> SlackAPIServer:
        """Start serving on a free port; returns once it is bound."""
        if self._server is not None:
            raise RuntimeError("the Slack API stand-in is already running")
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{key}", self._handle_response_url)
        app.router.add_get("/socket-mode", self._handle_socket)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        self._server = BackgroundServer(app, self._host).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> SlackAPIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- addresses -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Slack API stand-in is not running")
        return self._server.base_url

    @property
    def url(self) -> str:
        """The Web API base URL, for `AsyncWebClient(base_url=...)`; ends in `/api/`."""
        return f"{self.base_url}/api/"

    def response_url(self, key: str = "default") -> str:
        """A `response_url` that lands here, recorded as method `response_url`."""
        return f"{self.base_url}/response/{key}"

    # --- Socket Mode ---------------------------------------------------------------------

    def send_envelope(self, payload: dict[str, Any], kind: str = "events_api") -> str:
        """Push a Socket Mode envelope to every connected app; returns its envelope_id."""
        if self._server is None or not self._sockets:
            raise RuntimeError("no app is connected over Socket Mode")
        envelope_id = f"env-{time.monotonic_ns()}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        for socket in list(self._sockets):
            self._server.submit(socket.send_json(envelope)).result(5)
        return envelope_id

    def socket_messages(self) -> list[dict[str, Any]]:
        """What connected apps sent back over Socket Mode (acks carry `envelope_id`)."""
        with self._changed:
            return list(self._socket_messages)

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": APP_ID}}
        )
        self._sockets.append(socket)
        try:
            async for message in socket:
                if message.type == web.WSMsgType.TEXT:
                    with self._changed:
                        self._socket_messages.append(json.loads(message.data))
                        self._changed.notify_all()
        finally:
            self._sockets.remove(socket)
        return socket

    # --- what tests read -----------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[SlackCall]:
        """Calls received so far, oldest first; only those of `method` when given."""
        with self._changed:
            return [call for call in self._calls if method is None or call.method == method]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[SlackCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not a cancellation scope
    ) -> SlackCall:
        """The first recorded call of `method` that matches, waiting for it if need be.

        Awaitable, so the app under test keeps running in the test's event loop meanwhile;
        raises TimeoutError with the calls seen when none arrives in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self._first_match(method, predicate)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise self._timeout(method, timeout)
            await asyncio.sleep(0.01)

    def wait_for_sync(
        self,
        method: str,
        predicate: Callable[[SlackCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> SlackCall:
        """`wait_for` for code that has no event loop running (it blocks the thread)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self._first_match(method, predicate)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._timeout(method, timeout)
                self._changed.wait(left)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages now in a channel (posted, seeded, updated; not deleted), oldest first."""
        with self._changed:
            return [dict(message) for message in self._state.messages.get(channel, [])]

    def _first_match(
        self, method: str, predicate: Callable[[SlackCall], bool] | None
    ) -> SlackCall | None:
        for call in self.calls(method):
            if predicate is None or predicate(call):
                return call
        return None

    def _timeout(self, method: str, timeout: float) -> TimeoutError:
        seen = [call.method for call in self.calls()]
        return TimeoutError(f"no matching {method} call within {timeout} s; calls seen: {seen}")

    # --- what tests arrange --------------------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and `Retry-After`."""
        self._inject(method, _Injected(remaining=times, retry_after=retry_after))

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`."""
        self._inject(method, _Injected(remaining=times, error=error))

    def set_membership(self, user: str, *channel_ids: str) -> None:
        """The conversations `users.conversations` lists for `user` (none until set)."""
        with self._changed:
            self._state.members[user] = list(channel_ids)

    def files(self) -> list[dict[str, Any]]:
        """Files shared by `files.completeUploadExternal`: bytes, title, alt text, where."""
        with self._changed:
            return [dict(f) for f in self._state.uploads.values() if f.get("shared")]

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The Home tab last published for `user`."""
        with self._changed:
            return self._state.home_views.get(user)

    def allow_channels(self, *channel_ids: str) -> None:
        """Know only these channels: any other gets `channel_not_found`."""
        with self._changed:
            self._state.channels = set(channel_ids)

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0ASKER",
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Put a person's message in a channel (for `conversations.replies`); returns its ts."""
        with self._changed:
            ts = ts or self._new_ts()
            message: dict[str, Any] = {"type": "message", "ts": ts, "text": text, "user": user}
            if thread_ts:
                message["thread_ts"] = thread_ts
            self._store_message(channel, message)
            return ts

    def reset(self) -> None:
        """Forget calls, messages, injected answers and channel allow-list; restart ts."""
        with self._changed:
            self._calls.clear()
            self._state = _State()

    def _inject(self, method: str, injected: _Injected) -> None:
        if injected.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._changed:
            self._state.injected.setdefault(method, []).append(injected)

    # --- HTTP ----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await _read_params(request)
        except SlackError as error:
            return self._respond(request, method, {}, 200, error.body())
        with self._changed:
            status, body, headers = self._answer(method, params, request.headers)
        return self._respond(request, method, params, status, body, headers)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        try:
            params = await _read_params(request)
        except SlackError as error:
            return self._respond(request, "response_url", {}, 400, error.error)
        with self._changed:
            status, body, headers = self._answer_response_url(params)
        return self._respond(request, "response_url", params, status, body, headers)

    def _respond(
        self,
        request: web.Request,
        method: str,
        params: dict[str, Any],
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        call = SlackCall(
            method=method,
            params=params,
            headers=dict(request.headers),
            time=time.monotonic(),
            http_method=request.method,
            path=request.path,
            status=status,
            response=body,
        )
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()
        if isinstance(body, str):
            return web.Response(text=body, status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, params: dict[str, Any], headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str] | None]:
        """Slack's answer to one call: (HTTP status, JSON body, extra headers)."""
        injected = self._take_injected(method)
        if injected is not None and injected.error is None:
            retry = {"Retry-After": str(injected.retry_after)}
            return 429, {"ok": False, "error": "ratelimited"}, retry
        handler = self._methods.get(method)
        try:
            self._authenticate(params, headers)
            if injected is not None and injected.error is not None:
                raise SlackError(injected.error)
            if handler is None:
                raise SlackError("unknown_method")
            self._check_channel(params)
            return 200, handler(params), None
        except SlackError as error:
            return 200, error.body(), None

    def _answer_response_url(
        self, params: dict[str, Any]
    ) -> tuple[int, str, dict[str, str] | None]:
        injected = self._take_injected("response_url")
        if injected is not None and injected.error is None:
            return 429, "rate_limited", {"Retry-After": str(injected.retry_after)}
        if injected is not None and injected.error is not None:
            return 404, injected.error, None
        if params.get("delete_original"):
            return 200, "ok", None
        try:
            _check_content(params, MESSAGE_BLOCK_LIMIT)
        except SlackError as error:
            return 400, error.error, None
        return 200, "ok", None

    def _take_injected(self, method: str) -> _Injected | None:
        queue = self._state.injected.get(method)
        if not queue:
            return None
        injected = queue[0]
        injected.remaining -= 1
        if injected.remaining <= 0:
            queue.pop(0)
        return injected

    def _authenticate(self, params: dict[str, Any], headers: Mapping[str, str]) -> None:
        """The bearer header, else a `token` parameter (never kept in the record)."""
        param_token = params.pop("token", None)
        bearer = _BEARER.fullmatch(headers.get("Authorization", "").strip())
        token = bearer["token"] if bearer else param_token
        if not token:
            raise SlackError("not_authed")
        if token not in self._tokens:
            raise SlackError("invalid_auth")

    def _check_channel(self, params: dict[str, Any]) -> None:
        allowed = self._state.channels
        for name in _CHANNEL_PARAMS:
            channel = params.get(name)
            if channel is not None and allowed is not None and channel not in allowed:
                raise SlackError("channel_not_found")

    # --- state ---------------------------------------------------------------------------

    def _new_ts(self) -> str:
        micros = self._state.next_ts
        self._state.next_ts += TS_STEP
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _store_message(self, channel: str, message: dict[str, Any]) -> None:
        messages = self._state.messages.setdefault(channel, [])
        messages.append(message)
        messages.sort(key=lambda m: _ts_key(m["ts"]))

    def _find_message(self, channel: str, ts: str) -> dict[str, Any]:
        for message in self._state.messages.get(channel, []):
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")

    # --- methods -------------------------------------------------------------------------

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ws_url = self.base_url.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_url}/socket-mode"}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Example",
            "user": "dexter",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _required(params, "channel", "channel_not_found")
        _check_content(params, MESSAGE_BLOCK_LIMIT)
        message = self._bot_message(params, self._new_ts())
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self._store_message(channel, message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "channel", "channel_not_found")
        _required(params, "user", "user_not_in_channel")
        _check_content(params, MESSAGE_BLOCK_LIMIT)
        return {"ok": True, "message_ts": self._new_ts()}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "message_not_found")
        message = self._find_message(channel, ts)
        if message.get("bot_id") != BOT_ID:
            raise SlackError("cant_update_message")
        _check_content(params, MESSAGE_BLOCK_LIMIT)
        message["text"] = params.get("text", "")
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": dict(message),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _required(params, "channel", "channel_not_found")
        message = self._find_message(channel, _required(params, "ts", "message_not_found"))
        if message.get("bot_id") != BOT_ID:
            raise SlackError("cant_delete_message")
        self._state.messages[channel].remove(message)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        """A permalink like Slack's; replies carry `thread_ts` and `cid`. Messages the
        stand-in never saw still get one, as tests often link to unseeded threads."""
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "message_ts", "message_not_found")
        permalink = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        known = [m for m in self._state.messages.get(channel, []) if m["ts"] == ts]
        thread_ts = known[0].get("thread_ts") if known else None
        if thread_ts and thread_ts != ts:
            permalink += f"?thread_ts={thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": permalink}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "thread_not_found")
        thread = [
            dict(message)
            for message in self._state.messages.get(channel, [])
            if message["ts"] == ts or message.get("thread_ts") == ts
        ]
        if not thread:
            raise SlackError("thread_not_found")
        replies = [message for message in thread if message["ts"] != ts]
        if thread[0]["ts"] == ts and replies:
            thread[0]["thread_ts"] = ts
            thread[0]["reply_count"] = len(replies)
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 1000)
        page = thread[start : start + limit]
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _assistant_set_status(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "channel_id", "channel_not_found")
        _required(params, "thread_ts", "invalid_thread_ts")
        if not isinstance(params.get("status"), str):
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: status"])
        loading = params.get("loading_messages")
        if loading is not None and (
            not isinstance(loading, list)
            or not 1 <= len(loading) <= LOADING_MESSAGES_LIMIT
            or not all(isinstance(m, str) and m.strip() for m in loading)
        ):
            raise SlackError("invalid_arguments", ["[ERROR] loading_messages: 1-10 strings"])
        return {"ok": True}

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = _required(params, "filename", "invalid_arguments")
        length = _required(params, "length", "invalid_arguments")
        if not length.isdigit() or int(length) < 1:
            raise SlackError("invalid_arguments", ["[ERROR] length must be a positive integer"])
        alt_txt = params.get("alt_txt")
        if alt_txt is not None and len(str(alt_txt)) > ALT_TEXT_LIMIT:
            raise SlackError("invalid_arguments", ["[ERROR] alt_txt is too long"])
        file_id = f"F{self._state.next_file:08d}"
        self._state.next_file += 1
        self._state.uploads[file_id] = {
            "id": file_id,
            "filename": filename,
            "length": int(length),
            "alt_txt": alt_txt,
            "content": None,
        }
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """Share uploaded files, with their titles, in a channel (a thread, with thread_ts)."""
        files = params.get("files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments", ["[ERROR] files must be a non-empty array"])
        shared = []
        for entry in files:
            upload = self._state.uploads.get(str((entry or {}).get("id")))
            if upload is None or upload["content"] is None:
                raise SlackError("file_not_found")
            upload.update(
                shared=True,
                title=entry.get("title"),
                channel=params.get("channel_id"),
                thread_ts=params.get("thread_ts"),
                initial_comment=params.get("initial_comment"),
            )
            shared.append({"id": upload["id"], "title": entry.get("title")})
        return {"ok": True, "files": shared}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """The upload URL `files.getUploadURLExternal` handed out: the bytes, as promised."""
        content = await request.read()
        with self._changed:
            upload = self._state.uploads.get(request.match_info["file_id"])
            if upload is None:
                return web.Response(status=404, text="not found")
            if len(content) != upload["length"]:
                return web.Response(status=400, text="length mismatch")
            upload["content"] = content
            self._changed.notify_all()
        return web.Response(text=f"OK - {len(content)}")

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        """A Home tab: `type` home, at most 100 valid blocks."""
        user = _required(params, "user_id", "user_not_found")
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackError("invalid_arguments", ["[ERROR] view must be a home view"])
        problems = _block_problems(view.get("blocks"), VIEW_BLOCK_LIMIT, "/view/blocks")
        if problems:
            raise SlackError("invalid_blocks", problems)
        self._state.home_views[user] = view
        return {"ok": True, "view": {"id": f"V{self._state.next_view:08d}", **view}}

    def _users_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        user = _required(params, "user", "user_not_found")
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        member_of = self._state.members.get(user, [])
        page = member_of[start : start + limit]
        more = start + limit < len(member_of)
        return {
            "ok": True,
            "channels": [{"id": channel} for channel in page],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _assistant_set_title(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "channel_id", "channel_not_found")
        _required(params, "thread_ts", "invalid_thread_ts")
        title = params.get("title")
        if not isinstance(title, str) or not title.strip():
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: title"])
        return {"ok": True}

    def _assistant_set_suggested_prompts(self, params: dict[str, Any]) -> dict[str, Any]:
        """Up to four prompts, each with a title and a message (Slack's method page)."""
        _required(params, "channel_id", "channel_not_found")
        _required(params, "thread_ts", "invalid_thread_ts")
        prompts = params.get("prompts")
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= SUGGESTED_PROMPTS_LIMIT:
            raise SlackError("invalid_arguments", ["[ERROR] prompts must hold 1 to 4 prompts"])
        for n, prompt in enumerate(prompts):
            fields = [
                prompt.get(name) if isinstance(prompt, dict) else None
                for name in ("title", "message")
            ]
            if not all(isinstance(value, str) and value.strip() for value in fields):
                raise SlackError(
                    "invalid_arguments",
                    [f"[ERROR] a prompt needs a title and a message [json-pointer:/prompts/{n}]"],
                )
        if "title" in params and not isinstance(params["title"], str):
            raise SlackError("invalid_arguments", ["[ERROR] title must be a string"])
        return {"ok": True}

    def _chat_start_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _required(params, "channel", "channel_not_found")
        with _stream_errors():
            slack_streams.check_start(params)
        message = self._bot_message({}, self._new_ts())
        message["streaming_state"] = "in_progress"
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        slack_streams.apply_chunks(message, params)
        self._store_message(channel, message)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _chat_append_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._streaming_message(params)
        with _stream_errors():
            slack_streams.check_content(params, required=True)
        slack_streams.apply_chunks(message, params)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _chat_stop_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._streaming_message(params)
        with _stream_errors():
            slack_streams.check_content(params, required=False)
        if params.get("blocks") is not None:
            problems = _block_problems(params["blocks"], MESSAGE_BLOCK_LIMIT, "/blocks")
            if problems:
                raise SlackError("invalid_blocks", problems)
            message["blocks"] = params["blocks"]
        slack_streams.apply_chunks(message, params)
        message["streaming_state"] = "completed"
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _streaming_message(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        channel = _required(params, "channel", "channel_not_found")
        message = self._find_message(channel, _required(params, "ts", "message_not_found"))
        if message.get("bot_id") != BOT_ID:
            raise SlackError("message_not_owned_by_app")
        if message.get("streaming_state") != "in_progress":
            raise SlackError("message_not_in_streaming_state")
        return channel, message

    def _bot_message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "text": params.get("text", ""),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
        }
        for name in ("blocks", "metadata"):
            if name in params:
                message[name] = params[name]
        return message


# --- requests ----------------------------------------------------------------------------


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Every parameter of a request, however slack_sdk sent it.

    Query string first, then the body: JSON for block-carrying methods, form fields for
    the rest. Form fields that Slack documents as JSON strings (`blocks`, `view`, …) are
    decoded so recorded calls look the same whichever way they came.
    """
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.text() or "{}")
            except json.JSONDecodeError as error:
                raise SlackError("invalid_json") from error
            if not isinstance(body, dict):
                raise SlackError("invalid_json")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    for name in _JSON_FIELDS:
        value = params.get(name)
        if isinstance(value, str):
            try:
                params[name] = json.loads(value)
            except json.JSONDecodeError as error:
                raise SlackError(f"invalid_{name}_format") from error
    return params


@contextmanager
def _stream_errors() -> Iterator[None]:
    try:
        yield
    except slack_streams.StreamRefused as refused:
        raise SlackError(refused.error, refused.messages) from None


def _required(params: dict[str, Any], name: str, error: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise SlackError(error)
    return str(value)


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


# --- message validation ------------------------------------------------------------------


def _check_content(params: dict[str, Any], block_limit: int) -> None:
    """Refuse what Slack refuses in a message's text and blocks."""
    text = params.get("text")
    blocks = params.get("blocks")
    if not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    if isinstance(text, str) and len(text) > TEXT_LIMIT:
        raise SlackError("msg_too_long")
    if blocks is None:
        return
    problems = _block_problems(blocks, block_limit, "/blocks")
    if problems:
        raise SlackError("invalid_blocks", problems)
    if _text_length(blocks) > BLOCKS_TEXT_BUDGET:
        raise SlackError("msg_blocks_too_long")


def _block_problems(blocks: Any, limit: int, pointer: str) -> list[str]:
    """Slack-style `[ERROR] … [json-pointer:…]` lines for everything wrong with some blocks."""
    if not isinstance(blocks, list):
        return [_problem("must be an array", pointer)]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(_problem(f"no more than {limit} items allowed", pointer))
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
            kind = block.get("type") if isinstance(block, dict) else block
            problems.append(_problem(f"unsupported type: {kind}", f"{where}/type"))
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= ID_LIMIT:
                problems.append(
                    _problem(f"must be 1 to {ID_LIMIT} characters", f"{where}/block_id")
                )
            elif block_id in block_ids:
                problems.append(_problem("duplicate block_id", f"{where}/block_id"))
            else:
                block_ids.add(block_id)
        problems.extend(_BLOCK_CHECKS.get(block["type"], _no_problems)(block, where))
    return problems


def _section_problems(block: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        problems.append(_problem("must provide text or fields", where))
    if text is not None:
        problems.extend(_text_problems(text, f"{where}/text", SECTION_TEXT_LIMIT))
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > SECTION_FIELDS:
            problems.append(
                _problem(f"no more than {SECTION_FIELDS} items allowed", f"{where}/fields")
            )
        else:
            for index, item in enumerate(fields):
                problems.extend(
                    _text_problems(item, f"{where}/fields/{index}", SECTION_FIELD_LIMIT)
                )
    if "accessory" in block:
        problems.extend(_element_problems(block["accessory"], f"{where}/accessory"))
    return problems


def _context_problems(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 0 < len(elements) <= CONTEXT_ELEMENTS:
        return [_problem(f"must have 1 to {CONTEXT_ELEMENTS} items", f"{where}/elements")]
    problems: list[str] = []
    for index, element in enumerate(elements):
        at = f"{where}/elements/{index}"
        if isinstance(element, dict) and element.get("type") == "image":
            if not element.get("image_url") and not element.get("slack_file"):
                problems.append(_problem("must provide image_url or slack_file", at))
        else:
            problems.extend(_text_problems(element, at, SECTION_TEXT_LIMIT))
    return problems


def _actions_problems(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 0 < len(elements) <= ACTIONS_ELEMENTS:
        return [_problem(f"must have 1 to {ACTIONS_ELEMENTS} items", f"{where}/elements")]
    problems: list[str] = []
    action_ids: set[str] = set()
    for index, element in enumerate(elements):
        at = f"{where}/elements/{index}"
        problems.extend(_element_problems(element, at))
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is not None and action_id in action_ids:
            problems.append(_problem("duplicate action_id", f"{at}/action_id"))
        elif action_id is not None:
            action_ids.add(action_id)
    return problems


def _header_problems(block: dict[str, Any], where: str) -> list[str]:
    return _text_problems(block.get("text"), f"{where}/text", HEADER_TEXT_LIMIT, plain=True)


def _markdown_problems(block: dict[str, Any], where: str) -> list[str]:
    text = block.get("text")
    if not isinstance(text, str) or not 0 < len(text) <= MARKDOWN_BLOCK_LIMIT:
        return [_problem(f"must be 1 to {MARKDOWN_BLOCK_LIMIT} characters", f"{where}/text")]
    return []


def _context_actions_problems(block: dict[str, Any], where: str) -> list[str]:
    """`feedback_buttons` (an action_id, two buttons with text and value) or `icon_button`."""
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 5:
        return [_problem("must have 1-5 elements", f"{where}/elements")]
    problems = []
    for n, element in enumerate(elements):
        at = f"{where}/elements/{n}"
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in ("feedback_buttons", "icon_button"):
            problems.append(_problem("must be feedback_buttons or icon_button", at))
            continue
        if not isinstance(element.get("action_id"), str):
            problems.append(_problem("must have an action_id", at))
        if kind != "feedback_buttons":
            continue
        for side in ("positive_button", "negative_button"):
            button = element.get(side)
            if not isinstance(button, dict) or not isinstance(button.get("value"), str):
                problems.append(_problem(f"must have a {side} with a value", at))
                continue
            if len(button["value"]) > BUTTON_VALUE_LIMIT:
                problems.append(_problem("value is too long", f"{at}/{side}/value"))
            problems += _text_problems(
                button.get("text"), f"{at}/{side}/text", BUTTON_TEXT_LIMIT, plain=True
            )
    return problems


def _no_problems(block: dict[str, Any], where: str) -> list[str]:
    return []


_BLOCK_CHECKS: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
    "section": _section_problems,
    "context": _context_problems,
    "actions": _actions_problems,
    "context_actions": _context_actions_problems,
    "header": _header_problems,
    "markdown": _markdown_problems,
}


def _element_problems(element: Any, where: str) -> list[str]:
    """Buttons are checked in full; other interactive elements only for their ids."""
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [_problem("must be an element object", where)]
    problems: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > ID_LIMIT):
        problems.append(_problem(f"must be at most {ID_LIMIT} characters", f"{where}/action_id"))
    if element["type"] != "button":
        return problems
    problems.extend(
        _text_problems(element.get("text"), f"{where}/text", BUTTON_TEXT_LIMIT, plain=True)
    )
    value = element.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > BUTTON_VALUE_LIMIT):
        problems.append(
            _problem(f"must be at most {BUTTON_VALUE_LIMIT} characters", f"{where}/value")
        )
    url = element.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > URL_LIMIT):
        problems.append(_problem(f"must be at most {URL_LIMIT} characters", f"{where}/url"))
    if element.get("style") not in (None, "primary", "danger"):
        problems.append(_problem("must be primary or danger", f"{where}/style"))
    if "confirm" in element:
        problems.extend(_confirm_problems(element["confirm"], f"{where}/confirm"))
    return problems


def _confirm_problems(confirm: Any, where: str) -> list[str]:
    if not isinstance(confirm, dict):
        return [_problem("must be a confirmation dialog object", where)]
    problems = [
        *_text_problems(confirm.get("title"), f"{where}/title", 100, plain=True),
        *_text_problems(confirm.get("text"), f"{where}/text", 300),
        *_text_problems(confirm.get("confirm"), f"{where}/confirm", 30, plain=True),
        *_text_problems(confirm.get("deny"), f"{where}/deny", 30, plain=True),
    ]
    if confirm.get("style") not in (None, "primary", "danger"):
        problems.append(_problem("must be primary or danger", f"{where}/style"))
    return problems


def _text_problems(text: Any, where: str, limit: int, *, plain: bool = False) -> list[str]:
    allowed = ("plain_text",) if plain else _TEXT_TYPES
    if not isinstance(text, dict) or text.get("type") not in allowed:
        return [_problem(f"must be a {' or '.join(allowed)} text object", where)]
    value = text.get("text")
    if not isinstance(value, str) or not value:
        return [_problem("must be more than 0 characters", f"{where}/text")]
    if len(value) > limit:
        return [_problem(f"must be less than {limit + 1} characters", f"{where}/text")]
    return []


def _problem(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _text_length(value: Any) -> int:
    if isinstance(value, dict):
        return sum(
            len(item) if key == "text" and isinstance(item, str) else _text_length(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(_text_length(item) for item in value)
    return 0


def has_sources(blocks: list[dict[str, Any]] | None) -> bool:
    """Whether a message's blocks hold Dexter's sources line: the mark of a final answer."""
    return any(b.get("type") == "context" and "Sources" in json.dumps(b) for b in blocks or [])


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session", name="slack_api")
def slack_api_fixture() -> Iterator[SlackAPIServer]:
    """One Slack API stand-in for the whole test session."""
    with SlackAPIServer() as server:
        yield server


@pytest.fixture(name="clean_slack_api")
def clean_slack_api_fixture(slack_api: SlackAPIServer) -> Iterator[SlackAPIServer]:
    """The session's Slack API stand-in, with nothing recorded or arranged yet."""
    slack_api.reset()
    yield slack_api
    slack_api.reset()
