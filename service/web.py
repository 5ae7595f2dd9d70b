"""The one HTTP server: Slack's endpoint, the session API and a health check, one port."""

from __future__ import annotations

import logging
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api import include_session_api
from bot.http import slack_router
from service.configs import api_config
from service.runtime import Runtime
from stores import StoreUnavailable

log = logging.getLogger(__name__)


def build_web_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Dexter",
        summary="A financial research agent with per-session memory.",
        version=version("dexter-slack"),
    )
    slack = runtime.slack
    if slack is not None and slack.config.signing_secret is not None:
        app.include_router(slack_router(slack.app, slack.config.signing_secret))
    runs = include_session_api(app, runtime.research, api_config(runtime.settings))
    if runs is not None:
        # API runs outlive their requests; closing the runtime waits for them, losing none
        runtime.drain_before_close(runs.drain)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        try:
            await runtime.research.ping()
        except StoreUnavailable as exc:
            log.warning("health check: %s", exc)
            return JSONResponse({"ok": False, "store": "unavailable"}, status_code=503)
        return JSONResponse({"ok": True, "store": "up"})

    return app
