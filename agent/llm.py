"""The model, reached only through the `openai` SDK so any OpenAI-compatible server works.

The SDK already retries timeouts, 429 and 5xx with exponential backoff (honouring
`Retry-After`); we cap the retries and add a total time budget per call, and turn every
failure into one `ModelError`. Within an answer's deadline (`answer_deadline`), each call's
attempts are cut to what is left of it: an attempt never outlives the answer, and no retry
is started that could not get a full attempt's time. Structured replies are validated with
pydantic and retried once with the validation error shown to the model.

Usage counts every attempt: a retried request sent its prompt again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError

from agent.errors import ModelError, ModelTrouble
from agent.lenient_json import loads_leniently
from agent.tokens import count_tokens

log = logging.getLogger(__name__)

Message = dict[str, Any]


def _sdk_messages(messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    """Our plain message dicts as the SDK's typed ones (the same JSON objects)."""
    return cast(list[ChatCompletionMessageParam], list(messages))


Schema = TypeVar("Schema", bound=BaseModel)

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


DEADLINE_MARGIN = 1.0
"""Seconds an attempt may outlast its answer's deadline, so that the deadline, not the
attempt, is what stops a slow answer (and the person hears that the answer took too long)."""

_deadline: ContextVar[float | None] = ContextVar("answer_deadline", default=None)
"""The event-loop time by which the answer being researched must be done; a context
variable, so each concurrent answer (and every task it starts) sees its own."""


@contextmanager
def answer_deadline(when: float) -> Iterator[None]:
    """Fit every model call made inside to the answer's deadline `when` (loop time)."""
    token = _deadline.set(when)
    try:
        yield
    finally:
        _deadline.reset(token)


class InvalidReply(ModelError):
    """The model answered, twice, with something that does not fit the expected shape;
    `usage` is what those replies cost, so a step that falls back still counts it."""

    def __init__(self, message: str, usage: Usage) -> None:
        super().__init__(message, "invalid")
        self.usage = usage


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


def estimate_usage(messages: Sequence[Message], reply: str) -> Usage:
    """Usage counted with our tokenizer, for servers that report none."""
    prompt = sum(count_tokens(str(m.get("content") or "")) for m in messages)
    return Usage(prompt, count_tokens(reply))


def _usage_of(raw: Any, messages: Sequence[Message], reply: str) -> Usage:
    if raw is not None and getattr(raw, "prompt_tokens", None) is not None:
        return Usage(raw.prompt_tokens or 0, raw.completion_tokens or 0)
    return estimate_usage(messages, reply)


def parse_json_reply(text: str, schema: type[Schema]) -> Schema:
    """The reply as `schema`, tolerating code fences and prose around one JSON object."""
    cleaned = _FENCE.sub("", text.strip())
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start == -1 or end < start:
        raise ValueError("the reply holds no JSON object")
    return schema.model_validate(loads_leniently(cleaned[start : end + 1]))


class LLMClient:
    """The chat calls the agent's phases make, with budgets and error mapping."""

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str,
        cheap_model: str,
        budget: float,
        timeout: float,
        retries: int,
    ) -> None:
        self.client = client
        self.model = model
        self.cheap_model = cheap_model
        self.budget = budget
        self.timeout = timeout
        """Seconds per attempt, when the answer's deadline leaves that much."""
        self.retries = retries
        """Retries per call at most, when the answer's deadline leaves time for them."""

    def _fitted(self) -> AsyncOpenAI:
        """The client, its attempt timeout and retries cut to the answer's time left: no
        attempt outlives the deadline, and only retries whose whole attempt fits are made
        (30 s attempts with 100 s left: two retries; with 50 s left: none). A retry that
        cannot finish would only keep the server busy after the person was told it failed."""
        deadline = _deadline.get()
        if deadline is None:
            return self.client
        left = max(0.0, deadline - asyncio.get_running_loop().time())
        attempt = min(self.timeout, left + DEADLINE_MARGIN)
        retries = min(self.retries, max(0, math.floor(left / attempt) - 1))
        return self.client.with_options(timeout=attempt, max_retries=retries)

    async def _guarded(self, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            async with asyncio.timeout(self.budget):
                return await call()
        except TimeoutError as exc:
            raise ModelError(
                f"the model did not answer within {self.budget:.0f} s", "timeout"
            ) from exc
        except openai.APIStatusError as exc:
            raise ModelError(
                f"the model server answered {exc.status_code}", _trouble_of(exc.status_code)
            ) from exc
        except openai.APITimeoutError as exc:
            raise ModelError("the model server timed out", "timeout") from exc
        except openai.APIConnectionError as exc:
            raise ModelError("the model server cannot be reached", "unreachable") from exc
        except openai.OpenAIError as exc:
            raise ModelError(f"the model call failed: {type(exc).__name__}") from exc

    async def complete(
        self, messages: Sequence[Message], *, cheap: bool = False, **options: Any
    ) -> tuple[Any, Usage]:
        """One chat completion; returns the reply message and its usage."""
        model = self.cheap_model if cheap else self.model
        raw = await self._guarded(
            lambda: self._fitted().chat.completions.with_raw_response.create(
                model=model, messages=_sdk_messages(messages), **options
            )
        )
        response = raw.parse()
        if not response.choices:
            raise ModelError("the model returned no choices")
        message = response.choices[0].message
        usage = _usage_of(response.usage, messages, message.content or "")
        return message, usage + _resent(messages, raw.retries_taken)

    async def structured(
        self,
        messages: Sequence[Message],
        schema: type[Schema],
        *,
        max_tokens: int,
        cheap: bool = False,
    ) -> tuple[Schema, Usage]:
        """A reply validated as `schema`; one retry shows the model what was wrong."""
        conversation = list(messages)
        usage = Usage()
        for attempt in (1, 2):
            message, step_usage = await self.complete(
                conversation, cheap=cheap, temperature=0, max_tokens=max_tokens
            )
            usage += step_usage
            text = message.content or ""
            try:
                return parse_json_reply(text, schema), usage
            except (ValueError, ValidationError) as exc:
                problem = _describe(exc)
                log.warning("%s reply invalid (attempt %d): %s", schema.__name__, attempt, problem)
                conversation += [
                    {"role": "assistant", "content": text},
                    {
                        "role": "user",
                        "content": f"That reply was not valid: {problem}. "
                        "Answer again with only the JSON object described above.",
                    },
                ]
        raise InvalidReply(
            f"the model's {schema.__name__} reply was invalid twice: {problem}", usage
        )

    async def stream(
        self,
        messages: Sequence[Message],
        on_token: Callable[[str], Awaitable[None]],
        *,
        max_tokens: int,
    ) -> tuple[str, Usage]:
        """A streamed text reply; each piece goes to `on_token` as it arrives."""

        async def run() -> tuple[str, Any, int]:
            raw = await self._fitted().chat.completions.with_raw_response.create(
                model=self.model,
                messages=_sdk_messages(messages),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=max_tokens,
            )
            stream = raw.parse()
            parts: list[str] = []
            usage = None
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    piece = choice.delta.content if choice.delta else None
                    if piece:
                        parts.append(piece)
                        await on_token(piece)
            return "".join(parts), usage, raw.retries_taken

        text, raw_usage, retries = await self._guarded(run)
        if not text.strip():
            raise ModelError("the model returned an empty answer")
        return text, _usage_of(raw_usage, messages, text) + _resent(messages, retries)


def _resent(messages: Sequence[Message], retries: int) -> Usage:
    """The prompts the SDK's retries sent again (failed attempts report no usage)."""
    return Usage(retries * estimate_usage(messages, "").prompt_tokens) if retries else Usage()


def _trouble_of(status: int) -> ModelTrouble:
    """What an HTTP status from the model server means for the person asking."""
    if status in (401, 403):
        return "refused"
    if status == 429:
        return "busy"
    if status in (502, 503, 504):
        return "unreachable"
    return "rejected"


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
    return str(exc)
