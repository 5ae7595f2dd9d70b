"""The one HTTP server: Slack's endpoint, the session API and a health check, one port."""

from __future__ import annotations

import logging
from importlib.metadata import version

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import include_session_api
from api.auth import LOOPBACK_HOSTS, Authenticator
from api.errors import APIError, error_response
from bot.http import slack_router
from service.configs import api_config
from service.runtime import Runtime
from stores import StoreUnavailable

log = logging.getLogger(__name__)

METRICS_OFF = (
    "/metrics is served beyond loopback only with credentials: set BACKEND_API_KEY or "
    "JWT_SECRET, and send them as the session API takes them."
)


def build_web_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Dexter",
        summary="A financial research agent with per-session memory.",
        version=version("dexter-slack"),
    )
    slack = runtime.slack
    if slack is not None and slack.config.signing_secret is not None:
        app.include_router(slack_router(slack.app, slack.config.signing_secret))
    config = api_config(runtime.settings)
    runs = include_session_api(app, runtime.research, config)
    if runs is not None:
        # API runs outlive their requests; closing the runtime waits for them, losing none
        runtime.drain_before_close(runs.drain)

    metrics_guard = Authenticator(config.api_key, config.jwt_secret)
    exposed = runtime.settings.host not in LOOPBACK_HOSTS

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics: open on loopback; beyond it, the session API's credentials."""
        if exposed:
            if metrics_guard.is_open:
                return error_response(404, "metrics_off", METRICS_OFF)
            try:
                await metrics_guard(request)
            except APIError as refused:
                return refused.response()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        try:
            await runtime.research.ping()
        except StoreUnavailable as exc:
            log.warning("health check: %s", exc)
            return JSONResponse({"ok": False, "store": "unavailable"}, status_code=503)
        return JSONResponse({"ok": True, "store": "up"})

    return app
