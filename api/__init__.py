"""The HTTP session API: Dexter's agent and session stores for scripts, notebooks and web apps.

It shares the Slack app's server (one process, one port) and research service. Its sessions
live in their own `api:` namespace, so it can never read or erase a Slack thread's memory.
`include_session_api` mounts it on the app; `api.routes` describes the routes and
`api.auth` who may call them.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from agent import ResearchService
from api.auth import Access, api_access
from api.config import APIConfig
from api.errors import install_error_handlers
from api.routes import PREFIX, disabled_router, session_router
from api.runs import AgentRuns

__all__ = ["APIConfig", "AgentRuns", "include_session_api"]

log = logging.getLogger(__name__)


def include_session_api(
    app: FastAPI, research: ResearchService, config: APIConfig
) -> AgentRuns | None:
    """Mount the API as configured; returns its runs to drain on shutdown (None if off)."""
    install_error_handlers(app, PREFIX)
    access = api_access(config)
    if access is Access.OFF:
        log.info("the HTTP session API is off (no BACKEND_API_KEY or JWT_SECRET)")
        app.include_router(disabled_router())
        return None
    if access is Access.OPEN:
        log.warning(
            "the HTTP session API is open without credentials (DEXTER_API_ENABLED); "
            "serve it on a trusted network only"
        )
    runs = AgentRuns(research)
    app.include_router(session_router(runs, config))
    return runs
