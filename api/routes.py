"""The session API's routes under `/agent`: sessions, questions, history and erasure.

- `POST /agent/session`: a new session id (201), also set as the `dexter_session` cookie.
- `POST /agent/query`: the answer as server-sent events (see `api.sse`), or one JSON object
  when the client accepts `application/json` but not `text/event-stream`.
- `GET /agent/history`: the session's turns, newest first, `limit` per page, older pages
  with `before=<next_before>`.
- `DELETE /agent/history`: erases the session, as `/dexter-clear` does for a thread.

A route finds its session in the body or query string, else the `X-Session-Id` header,
else the cookie. Ids are checked (`api.sessions`) before the store is touched: 400 for a
malformed id, 404 for another caller's.

This module does not use `from __future__ import annotations`: the query body's model is
built per app (its length bound is a setting) and FastAPI must see it as a live object.
"""

import asyncio
from typing import Annotated, cast

from fastapi import APIRouter, Cookie, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth import Authenticator, Caller
from api.config import APIConfig
from api.errors import APIError, RunFailure, error_response
from api.runs import AgentRuns
from api.schemas import (
    SESSION_ID_DESCRIPTION,
    SESSION_ID_SCHEMA,
    AnswerResult,
    Cleared,
    ErrorBody,
    HistoryPage,
    QueryFields,
    SessionCreated,
    TurnOut,
    query_request_model,
)
from api.sessions import ForeignSession, InvalidSessionId
from api.sse import EVENT_SCHEMA, event_stream

PREFIX = "/agent"
COOKIE_NAME = "dexter_session"
SESSION_HEADER = "X-Session-Id"
HISTORY_PAGE_SIZE = 20
HISTORY_MAX_PAGE_SIZE = 100
# Bodies over this are refused (413) before they are read: JSON may spell one character as a
# 12-byte surrogate pair escape, and the rest is the envelope and the session id.
BODY_BYTES_PER_CHAR = 12
BODY_OVERHEAD_BYTES = 4096

SSE_DESCRIPTION = (
    "The answer as one JSON object (AnswerResult), or as server-sent events: each has "
    "`event: <type>` and `data: <JSON>` with the same `type`; `phase`, `plan`, "
    "`tool_started`, `tool_finished` and `answer_token` as the agent works, then `done` "
    "(an AnswerResult with `type`) or `error` (`error`, `message`, `reference`, and the "
    "`status` JSON mode would have answered). Lines starting with `:` are keep-alives."
)
DISABLED_MESSAGE = (
    "The HTTP session API is off. Set BACKEND_API_KEY and/or JWT_SECRET to serve it with "
    "credentials, or DEXTER_API_ENABLED=true to serve it without any, for local use only."
)


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {status: {"model": ErrorBody} for status in statuses}


SessionHeader = Annotated[
    str | None,
    Header(
        alias=SESSION_HEADER,
        description="The session, when the body or query names none.",
        json_schema_extra=SESSION_ID_SCHEMA,
    ),
]
SessionCookie = Annotated[
    str | None,
    Cookie(
        alias=COOKIE_NAME,
        description="Set by POST /agent/session; the last resort.",
        json_schema_extra=SESSION_ID_SCHEMA,
    ),
]


def wants_json(accept: str | None) -> bool:
    """One JSON object when the client lists `application/json` and not `text/event-stream`.

    Quality values are ignored: a client that can read the stream gets it.
    """
    if not accept:
        return False
    types = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return "application/json" in types and "text/event-stream" not in types


def checked_session(caller: Caller, session_id: str) -> str:
    try:
        return caller.owner.check(session_id)
    except InvalidSessionId as exc:
        raise APIError(400, "invalid_session_id", str(exc)) from None
    except ForeignSession as exc:
        raise APIError(404, "session_not_found", str(exc)) from None


def first_session(caller: Caller, *candidates: str | None) -> str | None:
    """The first session named, checked; the later candidates are not looked at."""
    for candidate in candidates:
        if candidate is not None:
            return checked_session(caller, candidate)
    return None


def session_router(runs: AgentRuns, config: APIConfig) -> APIRouter:
    """The routes, serving `runs`' research with the configured credentials and limits."""
    authenticate = Authenticator(config.api_key, config.jwt_secret)
    query_body = query_request_model(config.max_query_chars)
    body_limit = config.max_query_chars * BODY_BYTES_PER_CHAR + BODY_OVERHEAD_BYTES
    auth_errors = () if authenticate.is_open else (401,)
    router = APIRouter(
        prefix=PREFIX,
        tags=["agent"],
        dependencies=authenticate.documented_schemes(),
        responses=_errors(*auth_errors),
    )
    AuthenticatedCaller = Annotated[Caller, Depends(authenticate)]

    def set_session_cookie(response: Response, session_id: str) -> None:
        response.set_cookie(
            COOKIE_NAME,
            session_id,
            max_age=config.cookie_max_age,
            path=PREFIX,
            httponly=True,
            samesite="lax",
            secure=config.secure_cookies,
        )

    async def named_session(
        caller: AuthenticatedCaller,
        header: SessionHeader = None,
        cookie: SessionCookie = None,
        session_id: Annotated[
            str | None,
            Query(description=SESSION_ID_DESCRIPTION, json_schema_extra=SESSION_ID_SCHEMA),
        ] = None,
    ) -> str:
        session = first_session(caller, session_id, header, cookie)
        if session is None:
            raise APIError(
                400,
                "session_required",
                "name the session: ?session_id=…, the X-Session-Id header or the session cookie",
            )
        return session

    NamedSession = Annotated[str, Depends(named_session)]

    @router.post(
        "/session",
        status_code=201,
        response_model=SessionCreated,
        summary="Start a session",
        description="A new, empty session, also set as an HttpOnly, SameSite=Lax cookie.",
    )
    async def create_session(caller: AuthenticatedCaller, response: Response) -> SessionCreated:
        session_id = caller.owner.new_session_id()
        set_session_cookie(response, session_id)
        return SessionCreated(session_id=session_id)

    @router.post(
        "/query",
        response_model=AnswerResult,
        summary="Ask a question",
        description=(
            "Answers the question in the session named by the body, the X-Session-Id header "
            "or the cookie (a new session, returned in X-Session-Id and the cookie, if none). "
            "Questions in one session are answered one at a time. The answer streams as "
            "server-sent events unless the Accept header lists application/json and not "
            "text/event-stream. A client that disconnects does not stop the answer: it is "
            "stored in the session's history."
        ),
        responses={
            200: {
                "description": SSE_DESCRIPTION,
                "content": {"text/event-stream": {"itemSchema": EVENT_SCHEMA}},
            },
            **_errors(400, 404, 422, 500, 502, 503, 504),
            413: {
                "description": "The body is far over the query limit (plain text, unread).",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
        },
        max_body_size=body_limit,
    )
    async def query(
        body: query_body,  # type: ignore[valid-type]
        request: Request,
        caller: AuthenticatedCaller,
        header: SessionHeader = None,
        cookie: SessionCookie = None,
    ) -> Response:
        fields = cast(QueryFields, body)
        named = first_session(caller, fields.session_id, header, cookie)
        session_id = named or caller.owner.new_session_id()
        run = runs.start(fields.query, session_id, caller.user)
        headers = {SESSION_HEADER: session_id}
        response: Response
        if wants_json(request.headers.get("accept")):
            # shielded: a cancelled request leaves the run to finish and store its turn
            outcome = await asyncio.shield(run.task)
            if isinstance(outcome, RunFailure):
                response = JSONResponse(outcome.body(), outcome.status, headers=headers)
            else:
                result = AnswerResult.of(session_id, outcome)
                response = JSONResponse(result.model_dump(mode="json"), headers=headers)
        else:
            response = StreamingResponse(
                event_stream(run),
                media_type="text/event-stream",
                headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        if named is None:
            set_session_cookie(response, session_id)
        return response

    @router.get(
        "/history",
        response_model=HistoryPage,
        summary="Read a session's turns",
        description=(
            "The session's turns, newest first, `limit` at a time. For older turns pass the "
            "page's `next_before` as `before`. A session with no turns has an empty page."
        ),
        responses=_errors(400, 404, 422, 503),
    )
    async def history(
        session_id: NamedSession,
        limit: Annotated[int, Query(ge=1, le=HISTORY_MAX_PAGE_SIZE)] = HISTORY_PAGE_SIZE,
        before: Annotated[
            int | None, Query(ge=1, description="Only turns with a smaller seq.")
        ] = None,
    ) -> HistoryPage:
        page = await runs.research.history(session_id, limit=limit, before=before)
        return HistoryPage(
            session_id=session_id,
            turns=[TurnOut.of(t) for t in page.turns],
            total=page.total,
            next_before=page.turns[-1].seq if page.has_older else None,
        )

    @router.delete(
        "/history",
        response_model=Cleared,
        summary="Erase a session",
        description=(
            "Deletes every turn, summary and embedding of the session, as /dexter-clear does. "
            "It waits for an answer in progress, so that answer is erased too."
        ),
        responses=_errors(400, 404, 422, 503),
    )
    async def erase(session_id: NamedSession) -> Cleared:
        removed = await runs.research.erase(session_id)
        return Cleared(session_id=session_id, deleted_turns=removed)

    return router


def disabled_router() -> APIRouter:
    """Every `/agent/…` path answering 404 with how to turn the API on."""
    router = APIRouter()

    @router.api_route(
        PREFIX + "/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def api_off(path: str) -> JSONResponse:
        return error_response(404, "api_disabled", DISABLED_MESSAGE)

    return router
