"""The session API's request and response bodies, which are also its OpenAPI schemas.

Requests forbid unknown fields, so a misspelt `sesion_id` is a 422 rather than a silently
new session. The query's length bound comes from `DEXTER_MAX_QUERY_CHARS`, so its model is
built per app by `query_request_model`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import JsonDict

from agent import AgentResult
from api.sessions import SESSION_ID_PATTERN
from stores import Source, Turn

SESSION_ID_DESCRIPTION = (
    "An API session id from POST /agent/session: `api:` and a random token "
    "(or `api:<owner>:<token>` for a JWT subject's sessions)."
)
# documented, not enforced by validation: the routes check ids themselves, to answer 400
SESSION_ID_SCHEMA: JsonDict = {"pattern": SESSION_ID_PATTERN}


class QueryFields(BaseModel):
    """What a question carries; `query_request_model` adds the bounds the API checks."""

    model_config = ConfigDict(extra="forbid")

    query: str
    session_id: str | None = None


def query_request_model(max_chars: int) -> type[QueryFields]:
    """The request body: the query stripped, non-empty and at most `max_chars` long."""

    class QueryRequest(QueryFields):
        query: Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_chars)
        ] = Field(description=f"The question, 1 to {max_chars} characters after trimming.")
        session_id: str | None = Field(
            None,
            description=SESSION_ID_DESCRIPTION
            + " Without one here, the X-Session-Id header or the session cookie is used; "
            "without any, a new session is started.",
            json_schema_extra=SESSION_ID_SCHEMA,
        )

    return QueryRequest


class SessionCreated(BaseModel):
    session_id: str = Field(description=SESSION_ID_DESCRIPTION)


class SourceOut(BaseModel):
    title: str
    url: str

    @classmethod
    def of(cls, source: Source) -> SourceOut:
        return cls(title=source.title, url=source.url)


class TokenUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AnswerResult(BaseModel):
    """A finished answer: the JSON-mode response, and the data of the SSE `done` event."""

    session_id: str
    seq: int | None = Field(description="The stored turn's number in the session.")
    answer: str = Field(description="Markdown.")
    sources: list[SourceOut]
    usage: dict[str, TokenUsage] = Field(description="Tokens spent per agent phase.")
    total_tokens: int
    seconds: float = Field(description="Wall time of the whole answer.")
    timings: dict[str, float] = Field(description="Seconds per agent phase.")

    @classmethod
    def of(cls, session_id: str, result: AgentResult) -> Self:
        return cls(
            session_id=session_id,
            seq=result.turn.seq if result.turn else None,
            answer=result.answer,
            sources=[SourceOut.of(s) for s in result.sources],
            usage={
                phase: TokenUsage(
                    prompt_tokens=u.prompt_tokens,
                    completion_tokens=u.completion_tokens,
                    total_tokens=u.total,
                )
                for phase, u in result.usage.items()
            },
            total_tokens=result.total_tokens,
            seconds=round(result.seconds, 3),
            timings=result.timings,
        )


class StreamDone(AnswerResult):
    """The SSE stream's last event on success."""

    type: Literal["done"] = "done"


class StreamError(BaseModel):
    """The SSE stream's last event when the answer failed; `status` is JSON mode's status."""

    type: Literal["error"] = "error"
    error: str
    message: str
    reference: str
    status: int


class TurnOut(BaseModel):
    seq: int
    question: str
    answer: str
    summary: str
    sources: list[SourceOut]
    created_at: datetime

    @classmethod
    def of(cls, turn: Turn) -> TurnOut:
        return cls(
            seq=turn.seq,
            question=turn.question,
            answer=turn.answer,
            summary=turn.summary,
            sources=[SourceOut.of(s) for s in turn.sources],
            created_at=turn.created_at,
        )


class HistoryPage(BaseModel):
    session_id: str
    turns: list[TurnOut] = Field(description="Newest first.")
    total: int = Field(description="How many turns the session holds.")
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class Cleared(BaseModel):
    session_id: str
    deleted_turns: int


class ErrorBody(BaseModel):
    """Every 4xx/5xx body. `reference` names the log entry; `detail` lists invalid fields."""

    error: str
    message: str
    reference: str | None = None
    detail: list[dict[str, object]] | None = None
