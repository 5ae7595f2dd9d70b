"""Slack's HTTP endpoint: signature checked, body parsed and its shape checked, then Bolt.

Bolt checks signatures too, but it parses the body first, and a malformed body (or a
timestamp that is not a number) would surface as a 500 with a traceback. Here anything
that is not a well-formed Slack request is refused before Bolt sees it: 401 for a bad
signature or stale timestamp, checked first, 400 for a body Slack would never send. Each
refusal is one short log line, and at most `RefusalLog.BURST` a minute, so a flood of
junk cannot fill the disk.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from bot.metrics import ACK_SECONDS
from bot.threads import is_slack_id

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000
"""Slack's payloads are a few kilobytes; anything far larger is refused unread."""

# The fields Slack always sends with a slash command; Bolt and our listeners rely on them.
COMMAND_FIELDS = ("command", "team_id", "channel_id", "user_id", "response_url")
# Where Bolt's middleware looks for ids: each holder is an id or an object, each id a string.
ID_HOLDERS = (
    "user",
    "team",
    "channel",
    "enterprise",
    "view",
    "message",
    "previous_message",
    "container",
    "event",
)
ID_FIELDS = (
    "id",
    "team_id",
    "enterprise_id",
    "user_id",
    "channel_id",
    "api_app_id",
    "app_installed_team_id",
    "user_team",
    "context_team_id",
    "context_enterprise_id",
)
MAX_DEPTH_CHECKED = 3

# The interactive payloads Dexter has listeners for, and the fields of each they read.
INTERACTIONS: dict[str, dict[str, type]] = {
    "block_actions": {"user": dict, "team": dict, "actions": list},
    "message_action": {
        "user": dict,
        "team": dict,
        "channel": dict,
        "message": dict,
        "callback_id": str,
        "response_url": str,
    },
}


class RefusalLog:
    """One line per refused request, at most `BURST` a minute; the rest are counted."""

    BURST = 20
    WINDOW_SECONDS = 60.0

    def __init__(self) -> None:
        self._window_started = 0.0
        self._logged = 0
        self._suppressed = 0

    def refuse(self, status: int, error: str, why: str) -> JSONResponse:
        now = time.monotonic()
        if now - self._window_started > self.WINDOW_SECONDS:
            if self._suppressed:
                log.warning("refused %d more Slack requests in the last minute", self._suppressed)
            self._window_started, self._logged, self._suppressed = now, 0, 0
        if self._logged < self.BURST:
            self._logged += 1
            log.warning("refused a Slack request (%d %s): %s", status, error, why)
        else:
            self._suppressed += 1
        return JSONResponse({"error": error}, status_code=status)


def slack_router(app: AsyncApp, signing_secret: str) -> APIRouter:
    router = APIRouter()
    verifier = SignatureVerifier(signing_secret)
    refusals = RefusalLog()

    @router.post(SLACK_EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if not declared.isdigit():
            return refusals.refuse(411, "length_required", "no Content-Length")
        if int(declared) > MAX_BODY_BYTES:
            return refusals.refuse(413, "too_large", f"{declared} bytes declared")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return refusals.refuse(413, "too_large", f"{len(body)} bytes")
        if not signed_by_slack(verifier, body, request.headers):
            return refusals.refuse(401, "invalid_signature", "bad signature or stale timestamp")
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip()
        try:
            text = body.decode("utf-8")
            problem = payload_problem(parse_body(text, content_type))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            problem = f"the body does not parse ({type(exc).__name__})"
        if problem is not None:
            return refusals.refuse(400, "malformed_payload", problem)
        bolt_request = AsyncBoltRequest(
            body=text,
            query=request.query_params,  # type: ignore[arg-type]
            headers=request.headers,  # type: ignore[arg-type]
        )
        with ACK_SECONDS.time():
            response = await app.async_dispatch(bolt_request)
        return to_starlette_response(response)

    return router


def signed_by_slack(verifier: SignatureVerifier, body: bytes, headers: Any) -> bool:
    """Slack's signature over the timestamp and body, the timestamp recent; any header
    that is missing or not a number is simply not a valid signature."""
    stamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not (stamp.isdigit() and signature.isascii()):
        return False
    try:
        return verifier.is_valid(body, stamp, signature)
    except (ValueError, UnicodeDecodeError):
        return False


def payload_problem(payload: Any) -> str | None:
    """What makes a parsed body one Slack would never send Dexter, or None if it could be.

    Only the kinds of request Dexter has listeners for pass, each with the fields Bolt's
    middleware and our listeners read, of the types Slack documents.
    """
    if not isinstance(payload, dict):
        return f"the payload is a JSON {type(payload).__name__}, not an object"
    if "event" in payload and not isinstance(payload["event"], dict):
        return "its event is not an object"  # Bolt reads body["event"] of any payload
    if "command" in payload:
        missing = [name for name in COMMAND_FIELDS if not isinstance(payload.get(name), str)]
        if missing:
            return f"a command without {', '.join(missing)}"
        if not all(is_slack_id(payload[name]) for name in ("team_id", "channel_id", "user_id")):
            return "a command whose team, channel or user is not a Slack id"
        return _not_a_url(payload["response_url"])
    if payload.get("ssl_check"):
        return None
    kind = payload.get("type")
    if not isinstance(kind, str):
        return "a payload without a type"
    problem = _shape_problem(payload)
    if problem is not None or kind in ("url_verification", "app_rate_limited"):
        return problem
    if kind == "event_callback":
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event_callback without an event object that has a type"
        return None
    if kind in INTERACTIONS:
        for name, wanted in INTERACTIONS[kind].items():
            if not isinstance(payload.get(name), wanted):
                return f"a {kind} without a {name} {wanted.__name__}"
        if not is_slack_id(str(payload["user"].get("id"))):
            return f"a {kind} without a user id"
        if kind == "block_actions" and not _actions(payload["actions"]):
            return "a block_actions without actions that each have an action_id"
        if kind == "block_actions" and isinstance(payload.get("view"), dict):
            return None  # a button on the Home tab: no message, so no response_url
        if not isinstance(payload.get("response_url"), str):
            return f"a {kind} without a response_url str"
        return _not_a_url(payload["response_url"])
    return f"not a kind of request Dexter handles ({kind[:40]!r})"


def _shape_problem(part: dict[str, Any], depth: int = 0) -> str | None:
    """A problem if the ids Bolt's middleware reads are not strings, or the objects that
    hold them (`user`, `team`, `event`, …) are neither ids nor objects, at any depth."""
    for name in ID_FIELDS:
        if part.get(name) is not None and not isinstance(part[name], str):
            return f"its {name} is a {type(part[name]).__name__}, not a string"
    for name in ID_HOLDERS:
        value = part.get(name)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, dict):
            return f"its {name} is a {type(value).__name__}"
        if depth < MAX_DEPTH_CHECKED and (problem := _shape_problem(value, depth + 1)):
            return problem
    authorizations = part.get("authorizations")
    if authorizations is None:
        return None
    if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
        return "its authorizations are not a list of objects"
    return next(filter(None, (_shape_problem(a, depth + 1) for a in authorizations)), None)


def _actions(actions: list[Any]) -> bool:
    """At least one action, each an object naming its action_id (Bolt reads the first)."""
    return bool(actions) and all(
        isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions
    )


def _not_a_url(response_url: str) -> str | None:
    """A problem if `response_url` is not an absolute http(s) URL, where replies are posted."""
    parts = urlsplit(response_url)
    if parts.scheme in ("http", "https") and parts.hostname and response_url.isprintable():
        return None
    return "its response_url is not an http(s) URL"
