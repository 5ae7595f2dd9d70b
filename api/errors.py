"""Every error the session API answers, as one JSON shape: `{"error", "message", ...}`.

Bad input is always a 4xx: `APIError` carries the status and a human message, and
request validation failures become 422 without echoing the input (a body may hold a
secret pasted by mistake). A failed agent run becomes a `RunFailure`: a status for JSON
mode (502 model, 503 store, 504 timeout, 500 anything unforeseen) and the same code and
message for the SSE `error` event, with a reference id that is also in the log.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from agent import ModelError, RunTimeout
from stores import StoreUnavailable

log = logging.getLogger(__name__)


class APIError(Exception):
    """A request the API refuses; `error` is a stable code, `message` says what to do."""

    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(self.status, self.error, self.message, headers=self.headers)


@dataclass(frozen=True, slots=True)
class RunFailure:
    """Why an answer could not be given: what the client is told, and the log's reference."""

    status: int
    error: str
    message: str
    reference: str = field(default_factory=lambda: secrets.token_hex(4))

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "reference": self.reference}


def error_response(
    status: int, error: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "message": message, **extra}, status_code=status, headers=headers
    )


def run_failure(exc: Exception, session: str) -> RunFailure:
    """The failure to report for `exc`, logged once under its reference id.

    `session` is how the log names the session (see `sessions.log_label`), never the full
    id: the id is what grants access to the session.
    """
    if isinstance(exc, ModelError):
        failure = RunFailure(
            502,
            "model_unavailable",
            f"Sorry, {exc.advice}",
        )
    elif isinstance(exc, RunTimeout):
        failure = RunFailure(
            504, "timeout", "This research took too long and was stopped. Try a narrower question."
        )
    elif isinstance(exc, StoreUnavailable):
        failure = store_failure()
    else:
        failure = RunFailure(
            500, "internal_error", "Something went wrong while researching that. Please try again."
        )
    if failure.status == 500:
        log.error("answer failed [ref %s] in %s", failure.reference, session, exc_info=exc)
    else:
        log.error("answer failed [ref %s] in %s: %s", failure.reference, session, exc)
    return failure


def store_failure() -> RunFailure:
    return RunFailure(
        503,
        "store_unavailable",
        "Dexter couldn't open this session's memory just now. Please try again shortly.",
    )


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, APIError):
        raise exc
    return exc.response()


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each problem by location and message, never repeating the input."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    detail = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    return error_response(
        422, "invalid_request", "The request is not valid; see detail.", detail=detail
    )


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    failure = store_failure()
    log.error("%s %s failed [ref %s]: %s", request.method, request.url.path, failure.reference, exc)
    return JSONResponse(failure.body(), status_code=failure.status)


def install_error_handlers(app: FastAPI, prefix: str) -> None:
    """Answer the API's refusals, invalid requests and store outages as JSON.

    The framework's own refusals (a body that is not UTF-8, a wrong method) get the same
    shape under `prefix`; other paths (Slack's, unknown ones) keep FastAPI's.
    """

    async def framework_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):
            raise exc
        path = request.url.path
        if path != prefix and not path.startswith(prefix + "/"):
            return await http_exception_handler(request, exc)
        error = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, error, str(exc.detail), headers=headers)

    app.add_exception_handler(HTTPException, framework_error)
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
