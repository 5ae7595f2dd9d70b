"""The registry of tools: their OpenAI schemas, argument checks and one `execute` for all.

A `Tool` is a name, a description written for the model, a pydantic model of its
arguments, an async function and a human label for progress displays. The registry turns
the argument models into the JSON Schemas of OpenAI function calling, checks what the
model sends back, runs the tool under a timeout and wraps every outcome in a `ToolResult`.
`execute` never raises for an unknown tool, bad arguments or a failing API: the model gets
an error envelope it can act on and the run goes on. Only programming errors propagate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import TTLCache
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from agent.lenient_json import loads_leniently
from agent.tools.envelope import ToolResult
from agent.tools.errors import ToolError
from stores.models import Source

log = logging.getLogger(__name__)

ArgsT = TypeVar("ArgsT", bound=BaseModel)
SHOWN_INPUT_CHARS = 60


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a tool function returns on success: the data and where it came from."""

    data: Any
    source: Source


@dataclass(frozen=True, slots=True)
class Tool(Generic[ArgsT]):
    """One tool the model may call. `timeout` overrides the registry's default."""

    name: str
    description: str
    args_model: type[ArgsT]
    run: Callable[[ArgsT], Awaitable[ToolOutput]]
    label: Callable[[ArgsT], str]
    timeout: float | None = None
    topics: tuple[str, ...] = ()
    """Word starts that, in a planned task, call for this tool ("revenue", "10-k", "insider")."""

    def openai_schema(self) -> dict[str, Any]:
        """This tool as an entry of OpenAI's `tools=[...]` (function calling)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters_schema(self.args_model),
            },
        }


@dataclass(frozen=True, slots=True)
class CallPreview:
    """How to show a call before it runs: a label like `income statements · AAPL`."""

    tool: str
    label: str
    ticker: str | None


class ToolRegistry:
    """The tools the agent may call, by name."""

    def __init__(
        self,
        tools: Iterable[Tool[Any]],
        *,
        timeout: float,
        result_tokens: int,
        cache_ttl: float = 0.0,
        cache_size: int = 256,
    ) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool
        self._timeout = timeout
        self._result_tokens = result_tokens
        # Built once: pydantic takes milliseconds per schema, and every wave sends some.
        self._schemas = {name: tool.openai_schema() for name, tool in self._tools.items()}
        self._topics = {name: _topic_pattern(tool) for name, tool in self._tools.items()}
        # Results with data, as the model reads them: trimming to the budget costs
        # several tokenizer passes, so a call repeated within the TTL reuses the envelope.
        self._results: TTLCache[str, ToolResult] = TTLCache(maxsize=cache_size, ttl=cache_ttl)

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool[Any]]:
        return iter(self._tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool[Any] | None:
        return self._tools.get(name)

    def openai_tools(self, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The schemas of the tools `names` (every tool's when None), in registry order,
        for `chat.completions.create(tools=...)`."""
        if names is None:
            return list(self._schemas.values())
        wanted = set(names)
        return [schema for name, schema in self._schemas.items() if name in wanted]

    def matching(self, text: str) -> list[str]:
        """The tools `text` (a planned task) calls for by name or by topic, in registry order."""
        return [name for name, pattern in self._topics.items() if pattern.search(text)]

    def catalog(self) -> str:
        """One line per tool (name and first sentence), for a planning prompt."""
        return "\n".join(
            f"- {tool.name}: {tool.description.split('. ')[0].rstrip('.')}."
            for tool in self._tools.values()
        )

    def preview(self, name: str, arguments: str | Mapping[str, Any] | None) -> CallPreview:
        """Label and ticker of a call, even a malformed one, for progress displays."""
        try:
            tool, args = self.parse(name, arguments)
        except ToolError:
            raw = _loose_arguments(arguments)
            ticker = raw.get("ticker")
            return CallPreview(
                name, name.replace("_", " "), ticker.upper() if isinstance(ticker, str) else None
            )
        ticker = getattr(args, "ticker", None)
        return CallPreview(name, tool.label(args), ticker if isinstance(ticker, str) else None)

    def parse(
        self, name: str, arguments: str | Mapping[str, Any] | None
    ) -> tuple[Tool[Any], BaseModel]:
        """The tool and its validated arguments; `ToolError` says what is wrong otherwise."""
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {name!r}; the tools are {', '.join(self._tools)}")
        raw = _arguments_mapping(arguments)
        try:
            return tool, tool.args_model.model_validate(raw)
        except ValidationError as exc:
            raise ToolError(_validation_message(name, exc)) from None

    async def execute(self, name: str, arguments: str | Mapping[str, Any] | None) -> ToolResult:
        """Run one call the model made and wrap the outcome, good or bad, in a `ToolResult`."""
        try:
            tool, args = self.parse(name, arguments)
        except ToolError as exc:
            log.info("rejected tool call %s: %s", name, exc.reason)
            return ToolResult.failure(
                name, _loose_arguments(arguments), exc.reason, token_budget=self._result_tokens
            )
        label = tool.label(args)
        shown = args.model_dump(mode="json", exclude_none=True)
        key = f"{name}:{json.dumps(shown, sort_keys=True)}"
        cached = self._results.get(key)
        if cached is not None:
            return cached
        timeout = tool.timeout or self._timeout
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                output = await tool.run(args)
        except ToolError as exc:
            log.info("%s gave no data: %s", label, exc.reason)
            return ToolResult.failure(
                name, shown, exc.reason, label=label, token_budget=self._result_tokens
            )
        except TimeoutError:
            log.warning("%s timed out after %g s", label, timeout)
            return ToolResult.failure(
                name,
                shown,
                f"{label} took longer than {timeout:g} s; try again later or ask for less data",
                label=label,
                token_budget=self._result_tokens,
            )
        result = ToolResult(
            tool=name,
            arguments=shown,
            label=label,
            data=output.data,
            source=output.source,
            token_budget=self._result_tokens,
        )
        self._results[key] = result
        log.info(
            "%s: %d tokens%s in %.2f s",
            label,
            result.tokens,
            " (trimmed)" if result.trimmed else "",
            time.perf_counter() - started,
        )
        return result


def _topic_pattern(tool: Tool[Any]) -> re.Pattern[str]:
    """The tool's name, or a word starting with one of its topics, anywhere in a text."""
    alternatives = [re.escape(tool.name), *(re.escape(topic) for topic in tool.topics)]
    return re.compile(rf"\b(?:{'|'.join(alternatives)})", re.IGNORECASE)


class _ToolParametersSchema(GenerateJsonSchema):
    """Schemas the model reads easily: no titles, and an optional field as its plain type.

    An optional argument is simply not required; spelling it `anyOf [T, null]` only adds
    tokens and trips some models. Pydantic still accepts an explicit null.
    """

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a tool's arguments, as OpenAI function calling wants it."""
    schema = model.model_json_schema(schema_generator=_ToolParametersSchema)
    schema.pop("title", None)
    for spec in schema.get("properties", {}).values():
        if "default" in spec and spec["default"] is None:
            del spec["default"]
    schema.setdefault("required", [])
    schema["additionalProperties"] = False
    return schema


def _arguments_mapping(arguments: str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    if isinstance(arguments, str):
        try:
            parsed = loads_leniently(arguments)
        except json.JSONDecodeError as exc:
            raise ToolError(f"the arguments are not valid JSON ({exc.msg})") from None
    else:
        parsed = arguments
    if not isinstance(parsed, Mapping):
        raise ToolError("the arguments must be a JSON object of named parameters")
    return parsed


def _loose_arguments(arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The arguments as far as they can be read, to record alongside an error."""
    try:
        return dict(_arguments_mapping(arguments))
    except ToolError:
        return {"unparsed": str(arguments)[:200]}


def _validation_message(tool: str, error: ValidationError) -> str:
    problems = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        if problem["type"] == "extra_forbidden":
            problems.append(f"{where}: not a parameter of {tool}")
            continue
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] != "missing" and problem["loc"]:
            shown = repr(problem["input"])
            if len(shown) > SHOWN_INPUT_CHARS:
                shown = shown[:SHOWN_INPUT_CHARS] + "…"
            message = f"{message} (got {shown})"
        problems.append(f"{where}: {message}")
    return f"invalid arguments for {tool}: {'; '.join(problems)}. Fix them and call again."
