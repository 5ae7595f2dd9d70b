"""The model, reached only through the `openai` SDK so any OpenAI-compatible server works.

The SDK already retries timeouts, 429 and 5xx with exponential backoff (honouring
`Retry-After`); we cap the retries and add a total time budget per call, and turn every
failure into one `ModelError`. Structured replies are validated with pydantic and
retried once with the validation error shown to the model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError

from agent.errors import ModelError, ModelTrouble
from agent.tokens import count_tokens

log = logging.getLogger(__name__)

Message = dict[str, Any]


def _sdk_messages(messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    """Our plain message dicts as the SDK's typed ones (the same JSON objects)."""
    return cast(list[ChatCompletionMessageParam], list(messages))


Schema = TypeVar("Schema", bound=BaseModel)

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class InvalidReply(ModelError):
    """The model answered, twice, with something that does not fit the expected shape."""


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
    return schema.model_validate(json.loads(cleaned[start : end + 1]))


class LLMClient:
    """The chat calls the agent's phases make, with budgets and error mapping."""

    def __init__(self, client: AsyncOpenAI, *, model: str, cheap_model: str, budget: float) -> None:
        self.client = client
        self.model = model
        self.cheap_model = cheap_model
        self.budget = budget

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
        response = await self._guarded(
            lambda: self.client.chat.completions.create(
                model=model, messages=_sdk_messages(messages), **options
            )
        )
        if not response.choices:
            raise ModelError("the model returned no choices")
        message = response.choices[0].message
        return message, _usage_of(response.usage, messages, message.content or "")

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
            f"the model's {schema.__name__} reply was invalid twice: {problem}", "invalid"
        )

    async def stream(
        self,
        messages: Sequence[Message],
        on_token: Callable[[str], Awaitable[None]],
        *,
        max_tokens: int,
    ) -> tuple[str, Usage]:
        """A streamed text reply; each piece goes to `on_token` as it arrives."""

        async def run() -> tuple[str, Any]:
            stream = await self.client.chat.completions.create(
                model=self.model,
                messages=_sdk_messages(messages),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=max_tokens,
            )
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
            return "".join(parts), usage

        text, raw_usage = await self._guarded(run)
        if not text.strip():
            raise ModelError("the model returned an empty answer")
        return text, _usage_of(raw_usage, messages, text)


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
