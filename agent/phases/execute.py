"""Execute: the plan's tool calls through the model's function calling, in parallel.

Tasks of one wave (no dependency between them) run together: one model call lists the
tool calls of all of them, and those calls all run at once. A call the model got wrong
(unknown tool, bad arguments) is shown back to the model once; a call already made in
this run is reused, never repeated.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent.llm import LLMClient, Message, Usage
from agent.phases.plan import waves
from agent.progress import ProgressCallback, ToolFinished, ToolStarted, emit
from agent.prompts import (
    EXECUTE_MAX_TOKENS,
    EXECUTE_RETRY,
    EXECUTE_SYSTEM,
    Task,
    Understanding,
    fenced,
)
from agent.tokens import truncate_to_tokens
from agent.tools import ToolError, ToolRegistry, ToolResult
from stores.models import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Call:
    """A validated tool call: its name, its arguments, and the key that makes it unique."""

    tool: str
    arguments: Mapping[str, Any]

    @property
    def key(self) -> str:
        return f"{self.tool}({json.dumps(self.arguments, sort_keys=True)})"


@dataclass
class Gathered:
    """Every tool result of a run, by call key, in the order they were first made."""

    results: dict[str, ToolResult] = field(default_factory=dict)

    def add(self, call: Call, result: ToolResult) -> None:
        self.results.setdefault(call.key, result)

    def text(self, *, budget: int | None = None) -> str:
        """The results the model reads: a heading per call, then its (trimmed) data.

        `budget` cuts each result further, for steps that only need the gist.
        """
        return "\n\n".join(
            f"## {result.label}\n{_shortened(result.model_text(), budget)}"
            for result in self.results.values()
        )

    @property
    def all_failed(self) -> bool:
        """Calls were made and not one returned data."""
        return bool(self.results) and not any(r.ok for r in self.results.values())

    def sources(self) -> tuple[Source, ...]:
        """The sources of every call that returned data, once each, in call order."""
        unique = {r.source.url: r.source for r in self.results.values() if r.source and r.ok}
        return tuple(unique.values())

    @property
    def calls(self) -> list[str]:
        return list(self.results)


def _shortened(text: str, budget: int | None) -> str:
    return text if budget is None else truncate_to_tokens(text, budget)


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    usage: Usage
    new_calls: int


async def execute(
    llm: LLMClient,
    tasks: Sequence[Task],
    understanding: Understanding,
    registry: ToolRegistry,
    gathered: Gathered,
    on_progress: ProgressCallback | None,
) -> ExecutionReport:
    """Run every task, wave by wave; results land in `gathered`.

    A wave's tasks share one model call: the tool schemas (the bulk of the prompt) are
    sent once per wave, not once per task, and the calls still all run in parallel.
    """
    usage = Usage()
    new_calls = 0
    for wave in waves(tasks):
        wave_usage, made = await _run_wave(
            llm, wave, understanding, registry, gathered, on_progress
        )
        usage += wave_usage
        new_calls += made
    return ExecutionReport(usage, new_calls)


async def _run_wave(
    llm: LLMClient,
    wave: Sequence[Task],
    understanding: Understanding,
    registry: ToolRegistry,
    gathered: Gathered,
    on_progress: ProgressCallback | None,
) -> tuple[Usage, int]:
    listed = "\n".join(f"{n}. {task.description}" for n, task in enumerate(wave, start=1))
    request = f"Question:\n{fenced('question', understanding.resolved_query)}\n\nTasks:\n{listed}"
    if any(task.depends_on for task in wave) and gathered.results:
        request += f"\n\nResults gathered so far:\n{fenced('data', gathered.text())}"
    messages: list[Message] = [
        {"role": "system", "content": EXECUTE_SYSTEM},
        {"role": "user", "content": request},
    ]
    tools = offered_tools(registry, wave)
    message, usage = await llm.complete(
        messages, tools=tools, tool_choice="auto", max_tokens=EXECUTE_MAX_TOKENS
    )
    calls, problems = _validate(registry, message.tool_calls or [])
    if problems:
        messages += [_assistant_turn(message), *_rejections(message.tool_calls or [], problems)]
        messages.append(
            {"role": "user", "content": EXECUTE_RETRY.format(problems="; ".join(problems.values()))}
        )
        retry, retry_usage = await llm.complete(
            messages, tools=tools, tool_choice="auto", max_tokens=EXECUTE_MAX_TOKENS
        )
        usage += retry_usage
        more, still_wrong = _validate(registry, retry.tool_calls or [])
        for problem in still_wrong.values():
            log.warning("dropped a tool call the model got wrong twice: %s", problem)
        calls += more
    unique = list({call.key: call for call in calls}.values())
    fresh = [call for call in unique if call.key not in gathered.results]
    results = await asyncio.gather(*(_call(registry, c, on_progress) for c in fresh))
    for call, result in zip(fresh, results, strict=True):
        gathered.add(call, result)
    return usage, len(fresh)


def offered_tools(registry: ToolRegistry, wave: Sequence[Task]) -> list[dict[str, Any]]:
    """The schemas the wave's tasks call for: those the planner named and those their
    descriptions name by topic. All thirteen run to ~3,800 prompt tokens, most of a small
    server's context and of its time; a task that calls for none (the plan is unclear)
    gets every tool, so nothing the question needs is ever withheld."""
    wanted: list[str] = []
    for task in wave:
        named = [name for name in task.tools if name in registry]
        matched = registry.matching(task.description)
        if not named and not matched:
            return registry.openai_tools()
        wanted += named + matched
    return registry.openai_tools(wanted)


def _validate(
    registry: ToolRegistry, tool_calls: Sequence[Any]
) -> tuple[list[Call], dict[str, str]]:
    """The well-formed calls, and a problem description per malformed call id."""
    calls: list[Call] = []
    problems: dict[str, str] = {}
    for tool_call in tool_calls:
        name, raw = tool_call.function.name, tool_call.function.arguments
        try:
            _, args = registry.parse(name, raw)
        except ToolError as exc:
            problems[tool_call.id] = exc.reason
            continue
        calls.append(Call(name, args.model_dump(mode="json", exclude_none=True)))
    return calls, problems


def _assistant_turn(message: Any) -> Message:
    return {
        "role": "assistant",
        "content": message.content or "",  # some servers refuse null content with a 500
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls or []
        ],
    }


def _rejections(tool_calls: Sequence[Any], problems: Mapping[str, str]) -> list[Message]:
    """A tool message for every call of the turn, as the API requires: rejected or deferred."""
    return [
        {
            "role": "tool",
            "tool_call_id": call.id,
            "content": problems.get(call.id, "accepted; it will run"),
        }
        for call in tool_calls
    ]


async def _call(
    registry: ToolRegistry, call: Call, on_progress: ProgressCallback | None
) -> ToolResult:
    preview = registry.preview(call.tool, call.arguments)
    call_id = call.key
    await emit(
        on_progress,
        ToolStarted(call_id=call_id, tool=call.tool, label=preview.label, ticker=preview.ticker),
    )
    started = time.perf_counter()
    result = await registry.execute(call.tool, call.arguments)
    await emit(
        on_progress,
        ToolFinished(
            call_id=call_id,
            tool=call.tool,
            label=result.label,
            ticker=preview.ticker,
            endpoint=urlsplit(result.source.url).path if result.source else None,
            ok=result.ok,
            error=result.error,
            seconds=round(time.perf_counter() - started, 3),
        ),
    )
    return result
