"""Runs the question set through the real agent, recording what every run was given.

The agent is the one production builds (`agent.factory.build_agent`), with two
harness-side additions that change nothing it does: its tool registry records each
call's result, and its model client counts the requests it sends. Threads run in three
context modes, each in a session of its own:

- `full`: every earlier turn sent whole (recent turns and budget without limit);
- `selection`: the agent's own context selection, as configured (`agent.context`);
- `none`: each question asked alone, without the thread.
"""

from __future__ import annotations

import contextvars
import copy
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx
from openai import AsyncOpenAI, DefaultAsyncHttpxClient

from agent.errors import AgentError
from agent.factory import AgentParts, ResearchConfig, build_agent
from agent.orchestrator import Agent, AgentResult
from agent.tools import ToolRegistry, ToolResult
from bench.eval.questions import Item, Turn
from bench.eval.references import RecordedData, ToolCall
from bench.eval.scoring import Answered, Scorer, TurnScore
from stores import SessionStore, StoreUnavailable, open_store

Mode = Literal["single", "full", "selection", "none"]
THREAD_MODES: tuple[Mode, ...] = ("full", "selection", "none")
UNBOUNDED = 10**9


@dataclass
class _RunLog:
    """What one agent run did beyond its result: the tool calls and model requests."""

    calls: list[ToolCall] = field(default_factory=list)
    model_calls: int = 0


_current: contextvars.ContextVar[_RunLog | None] = contextvars.ContextVar("eval_run", default=None)


class RecordingRegistry(ToolRegistry):
    """The agent's tool registry, noting each result (data included) for the current run."""

    async def execute(self, name: str, arguments: Any) -> ToolResult:
        result = await super().execute(name, arguments)
        log = _current.get()
        if log is not None:
            log.calls.append(
                ToolCall(
                    tool=result.tool,
                    arguments=dict(result.arguments),
                    ok=result.ok,
                    data=result.data,
                    source_url=result.source.url if result.source else None,
                    error=result.error,
                )
            )
        return result


async def _count_model_call(request: httpx.Request) -> None:
    log = _current.get()
    if log is not None and request.url.path.endswith("/chat/completions"):
        log.model_calls += 1


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One answered question: what was asked, said, cited and spent, and its score."""

    item: str
    tags: tuple[str, ...]
    mode: Mode
    turn: int
    question: str
    answer: str
    source_urls: tuple[str, ...]
    calls: tuple[ToolCall, ...]
    usage: dict[str, tuple[int, int]]
    model_calls: int
    seconds: float
    history_tokens: int
    full_history_tokens: int
    score: TurnScore
    error: str | None = None
    judge: dict[str, Any] | None = None

    @property
    def tool_calls(self) -> int:
        return len(self.calls)

    @property
    def prompt_tokens(self) -> int:
        return sum(prompt for prompt, _ in self.usage.values())

    @property
    def completion_tokens(self) -> int:
        return sum(completion for _, completion in self.usage.values())

    def answered(self) -> Answered:
        return Answered(self.answer, self.source_urls, self.calls, self.error)


Judge = Callable[[str, str, Sequence[ToolCall]], Awaitable[dict[str, Any]]]


@dataclass
class EvalAgents:
    """The agent per context mode, sharing one model client, tool registry and embedder."""

    agents: dict[Mode, Agent]
    parts: AgentParts
    counted: AsyncOpenAI

    @property
    def openai(self) -> AsyncOpenAI:
        return self.counted

    async def close(self) -> None:
        await self.counted.close()
        await self.parts.close()


def build_agents(config: ResearchConfig) -> EvalAgents:
    """The production agent of `config` (`agent.factory`), three times over, differing only
    in what history it sends; its model client counts requests, its registry records."""
    parts = build_agent(config)
    counted = parts.openai.copy(
        http_client=DefaultAsyncHttpxClient(event_hooks={"request": [_count_model_call]})
    )
    llm = copy.copy(parts.agent.llm)
    llm.client = counted
    data = config.market_data
    tools = RecordingRegistry(
        list(parts.agent.tools),
        timeout=data.timeout,
        result_tokens=data.result_tokens,
        cache_ttl=data.cache_ttl,
    )
    vectors = parts.agent.embedder
    whole = replace(
        config.agent,
        recent_turns=UNBOUNDED,
        max_context_turns=None,
        context_token_budget=UNBOUNDED,
    )
    agents: dict[Mode, Agent] = {
        "full": Agent(llm, tools, embedder=vectors, config=whole),
        "selection": Agent(llm, tools, embedder=vectors, config=config.agent),
    }
    agents["none"] = agents["single"] = agents["selection"]
    return EvalAgents(agents, parts, counted)


class Runner:
    """Asks every question of the set and scores each answer as it comes."""

    def __init__(
        self,
        agents: EvalAgents,
        scorer: Scorer,
        *,
        modes: Sequence[Mode] = THREAD_MODES,
        judge: Judge | None = None,
    ) -> None:
        self._agents = agents
        self._scorer = scorer
        self._modes = modes
        self._judge = judge

    def runs(self, items: Sequence[Item]) -> int:
        """How many answers `run` will ask for (for a progress bar)."""
        return sum(len(i.turns) * (len(self._modes) if i.is_thread else 1) for i in items)

    async def run(
        self, items: Sequence[Item], on_answer: Callable[[TurnRecord], None] | None = None
    ) -> list[TurnRecord]:
        records: list[TurnRecord] = []
        async with AsyncExitStack() as stack:
            store = await open_store("memory://")
            stack.push_async_callback(store.close)
            for item in items:
                for mode in self._modes if item.is_thread else ("single",):
                    session = f"eval:{item.id}:{mode}" if mode in ("full", "selection") else None
                    for number, turn in enumerate(item.turns, start=1):
                        record = await self._ask(item, mode, number, turn, session, store)
                        records.append(record)
                        if on_answer is not None:
                            on_answer(record)
        return records

    async def _ask(
        self,
        item: Item,
        mode: Mode,
        number: int,
        turn: Turn,
        session: str | None,
        store: SessionStore,
    ) -> TurnRecord:
        log = _RunLog()
        token = _current.set(log)
        started = time.perf_counter()
        result: AgentResult | None = None
        error: str | None = None
        try:
            result = await self._agents.agents[mode].run(turn.ask, session_id=session, store=store)
        except (AgentError, StoreUnavailable) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            _current.reset(token)
        seconds = time.perf_counter() - started
        answered = Answered(
            answer=result.answer if result else "",
            source_urls=tuple(s.url for s in result.sources) if result else (),
            calls=tuple(log.calls),
            error=error,
        )
        score = self._scorer.score(turn.expect, answered, RecordedData(log.calls))
        judged = None
        if self._judge is not None and result is not None:
            judged = await self._judge(turn.ask, result.answer, log.calls)
        return TurnRecord(
            item=item.id,
            tags=item.tags,
            mode=mode,
            turn=number,
            question=turn.ask,
            answer=answered.answer,
            source_urls=answered.source_urls,
            calls=answered.calls,
            usage=_usage(result.usage) if result else {},
            model_calls=log.model_calls,
            seconds=seconds,
            history_tokens=result.context_tokens if result else 0,
            full_history_tokens=result.history_tokens if result else 0,
            score=score,
            error=error,
            judge=judged,
        )


def _usage(usage: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    return {phase: (u.prompt_tokens, u.completion_tokens) for phase, u in usage.items()}


def rescored(
    records: Sequence[TurnRecord], scorer: Scorer, items: Sequence[Item]
) -> list[TurnRecord]:
    """The records scored again (by another scorer, or after a change to what they hold)."""
    turns = {(item.id, n): turn for item in items for n, turn in enumerate(item.turns, start=1)}
    return [
        replace(
            record,
            score=scorer.score(
                turns[(record.item, record.turn)].expect,
                record.answered(),
                RecordedData(record.calls),
            ),
        )
        for record in records
    ]
