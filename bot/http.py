"""Slack's HTTP endpoint: signature checked, body parsed, then handed to Bolt.

Bolt checks signatures too, but it parses the body first and a malformed body would
surface as a 500; here a bad signature or stale timestamp is a 401 and a malformed
payload a 400 before Bolt sees it.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000
"""Slack's payloads are a few kilobytes; anything far larger is refused unread."""


def slack_router(app: AsyncApp, signing_secret: str) -> APIRouter:
    router = APIRouter()
    verifier = SignatureVerifier(signing_secret)

    @router.post(SLACK_EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if not declared.isdigit():
            return JSONResponse({"error": "length_required"}, status_code=411)
        if int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "too_large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "too_large"}, status_code=413)
        if not verifier.is_valid_request(body, dict(request.headers)):
            log.warning("refused a Slack request with a bad signature or stale timestamp")
            return JSONResponse({"error": "invalid_signature"}, status_code=401)
        try:
            bolt_request = to_async_bolt_request(request, body)
        except (ValueError, UnicodeDecodeError):
            log.warning("refused a signed Slack request whose body is malformed")
            return JSONResponse({"error": "malformed_payload"}, status_code=400)
        return to_starlette_response(await app.async_dispatch(bolt_request))

    return router
