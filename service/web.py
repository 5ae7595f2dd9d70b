"""The one HTTP server: Slack's endpoint, the session API and a health check, one port."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api import include_session_api
from bot.http import slack_router
from service.runtime import Runtime
from stores import StoreUnavailable


def build_web_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Dexter",
        summary="A financial research agent with per-session memory.",
        version="0.1.0",
    )
    slack = runtime.slack
    secret = runtime.settings.slack_signing_secret
    if slack is not None and secret is not None:
        app.include_router(slack_router(slack.app, secret.get_secret_value()))
    # runs outlive their requests; whoever stops the server drains them so no answer is lost
    app.state.agent_runs = include_session_api(
        app, runtime.agent.agent, runtime.store, runtime.settings
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        try:
            await runtime.store.ping()
        except StoreUnavailable as exc:
            return JSONResponse({"ok": False, "store": exc.reason}, status_code=503)
        return JSONResponse({"ok": True, "store": "up"})

    return app
