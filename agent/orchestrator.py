"""The research agent: understand -> plan -> execute -> reflect (bounded) -> answer, with memory.

`Agent.run` is the whole contract front ends use. With a session and a store it holds
the session's lock for the whole answer (one answer at a time per thread), loads the
history, sends only the turns that matter, and appends the finished turn in one write;
a run that fails appends nothing. Without a session it is a one-shot agent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from agent.context import (
    DEFAULT_MIN_RELEVANCE,
    DEFAULT_RECENT,
    DEFAULT_TOKEN_BUDGET,
    ContextSelection,
    retrieval_query,
    select_context,
)
from agent.embeddings import Embedder, EmbeddingError, turn_text
from agent.errors import AgentError, ModelError, RunTimeout
from agent.llm import LLMClient, Message, Usage, answer_deadline
from agent.phases.answer import (
    NO_DATA,
    answer,
    history_text,
    nothing_fetched,
    unsupported_figures,
)
from agent.phases.execute import Gathered, execute
from agent.phases.plan import plan
from agent.phases.reflect import reflect
from agent.phases.summarise import summarise
from agent.phases.understand import understand
from agent.progress import (
    AnswerToken,
    Done,
    ErrorEvent,
    PhaseStarted,
    PlanReady,
    ProgressCallback,
    TakingLong,
    emit,
)
from agent.prompts import Understanding
from agent.series import Series, chart_series
from agent.tokens import count_tokens
from agent.tools import ToolRegistry
from stores import MessageHistory, SessionStore, Source, StoreUnavailable, Turn

log = logging.getLogger(__name__)

REFLECT_TOKENS_PER_RESULT = 300
ANSWER_RESERVE_SHARE = 0.4
"""The share of the answer's deadline kept for writing the answer: with less left, no
reflection or further round starts (on a slow server, one can outlast the deadline and
lose the data already gathered)."""
# The latest turns of a thread loaded to choose context from: LoCoMo's conversations run to
# 700 turns; loading 2,000 research turns (3 KB answers) takes about 35 ms on every
# backend, 5,000 about 90 ms (`python -m bench.stores`).
DEFAULT_HISTORY_LOAD_LIMIT = 2000
LOCK_WAIT_NOTICE_SECONDS = 1.0
"""A wait for the thread's lock longer than this is shown as the `waiting` phase."""
MAX_QUESTION_CHARS = 4000
"""The longest question front ends take (`DEXTER_MAX_QUERY_CHARS`): a 40,000-character
Slack message would make a 93 KB model request."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """The agent's knobs; `agent.factory` fills them from the settings."""

    max_iterations: int = 3
    run_timeout: float = 120.0
    """Seconds one answer may take, from the end of its wait for the thread: about what
    a person in Slack waits before giving up on a reply. Every model call fits inside."""
    slow_notice: float = 30.0
    """Seconds after which the person is told the answer is taking long (`TakingLong`)."""
    summarize_with_model: bool = False
    recent_turns: int = DEFAULT_RECENT
    max_context_turns: int | None = None
    context_token_budget: int = DEFAULT_TOKEN_BUDGET
    min_relevance: float = DEFAULT_MIN_RELEVANCE
    history_load_limit: int = DEFAULT_HISTORY_LOAD_LIMIT


@dataclass(frozen=True, slots=True)
class AgentResult:
    """What one run produced; `turn` is the stored turn (with its seq) when there was a session."""

    query: str
    answer: str
    sources: tuple[Source, ...]
    understanding: Understanding
    usage: dict[str, Usage]
    timings: dict[str, float]
    seconds: float
    context_seqs: tuple[int, ...] = ()
    context_tokens: int = 0
    history_tokens: int = 0
    tool_calls: int = 0
    iterations: int = 0
    turn: Turn | None = None
    series: Series | None = None
    """The figures the answer rests on, when they make a chart (`agent.series`)."""

    @property
    def total_tokens(self) -> int:
        return sum(u.total for u in self.usage.values())


@dataclass
class _Run:
    """The bookkeeping of one run: usage and time per phase."""

    on_progress: ProgressCallback | None
    usage: dict[str, Usage] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def spent(self, phase: str, usage: Usage, started: float) -> None:
        self.usage[phase] = self.usage.get(phase, Usage()) + usage
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started


class Agent:
    """A financial research agent; one instance serves every thread concurrently."""

    def __init__(
        self,
        llm: LLMClient,
        tools: ToolRegistry,
        *,
        embedder: Embedder | None = None,
        config: AgentConfig | None = None,
    ) -> None:
        self.llm = llm
        self.tools = tools
        self.embedder = embedder
        self.config = config or AgentConfig()

    async def warm_up(self) -> None:
        """Load the tokenizer and the embedding model now, not on the first question."""
        count_tokens("warm up")
        if self.embedder is not None:
            try:
                await self.embedder.embed(["warm up"])
            except EmbeddingError as exc:
                log.warning(
                    "the embedding model is unavailable; context selection will be lexical: %s", exc
                )

    async def run(
        self,
        query: str,
        *,
        session_id: str | None = None,
        store: SessionStore | None = None,
        on_progress: ProgressCallback | None = None,
        user: str | None = None,
    ) -> AgentResult:
        """Answer `query`; raises `AgentError` or `StoreUnavailable` after an error event."""
        query = plain_text(query).strip()
        if not query:
            raise ValueError("the question is empty")
        budget: asyncio.Timeout | None = None
        try:
            # The budget starts once the thread's earlier question is answered: waiting
            # for the lock is queueing, not research.
            async with self._session(store, session_id, on_progress) as history:
                started = time.perf_counter()
                async with asyncio.timeout(self.config.run_timeout) as budget:
                    with answer_deadline(budget.when() or math.inf):
                        result = await self._research_noting_delay(
                            query, history, on_progress, user, started
                        )
                if store is not None and session_id is not None and result.turn is not None:
                    stored = await store.append(session_id, result.turn)
                    result = replace(result, turn=stored)
        except TimeoutError:
            if budget is None or not budget.expired():
                raise
            timeout = RunTimeout(self.config.run_timeout)
            await emit(on_progress, ErrorEvent(kind="timeout", message=str(timeout)))
            raise timeout from None
        except ModelError as exc:
            await emit(on_progress, ErrorEvent(kind="model", message=str(exc)))
            raise
        except StoreUnavailable as exc:
            await emit(on_progress, ErrorEvent(kind="store", message=str(exc)))
            raise
        except AgentError as exc:
            await emit(on_progress, ErrorEvent(kind="internal", message=str(exc)))
            raise
        await emit(
            on_progress,
            Done(
                seconds=round(result.seconds, 3),
                total_tokens=result.total_tokens,
                seq=result.turn.seq if result.turn else None,
            ),
        )
        return result

    @asynccontextmanager
    async def _session(
        self,
        store: SessionStore | None,
        session_id: str | None,
        on_progress: ProgressCallback | None,
    ) -> AsyncIterator[MessageHistory]:
        """The session's history, with its lock held until the turn is stored. A lock that
        is not free at once (an earlier answer holds it, in this process or another) is
        reported as the `waiting` phase, so the person sees why nothing moves."""
        if store is None or session_id is None:
            yield MessageHistory(session_id or "")
            return
        notice = asyncio.create_task(_report_waiting(on_progress))
        try:
            async with store.lock(session_id):
                notice.cancel()
                yield await store.load(session_id, limit=self.config.history_load_limit)
        finally:
            notice.cancel()

    async def _research_noting_delay(
        self,
        query: str,
        history: MessageHistory,
        on_progress: ProgressCallback | None,
        user: str | None,
        started: float,
    ) -> AgentResult:
        """`_research`, telling the person once when it runs past `slow_notice` seconds."""
        notice = asyncio.create_task(self._report_slow(on_progress))
        try:
            return await self._research(query, history, on_progress, user, started)
        finally:
            notice.cancel()

    async def _report_slow(self, on_progress: ProgressCallback | None) -> None:
        await asyncio.sleep(self.config.slow_notice)
        await emit(
            on_progress,
            TakingLong(seconds=self.config.slow_notice, deadline=self.config.run_timeout),
        )

    async def _answer_without_data(
        self,
        query: str,
        understanding: Understanding,
        history_messages: list[Message],
        stream_token: Callable[[str], Awaitable[None]],
    ) -> tuple[str, Usage]:
        """No data call was made: the answer may rest on the thread or on no figure at all.
        It is written in full before it is shown, and one that states an amount or a
        percentage found in neither the question nor the thread is replaced by `NO_DATA`."""
        pieces: list[str] = []

        async def keep(piece: str) -> None:
            pieces.append(piece)

        text, usage = await answer(self.llm, query, understanding, history_messages, "", keep)
        invented = unsupported_figures(text, [query, *history_text(history_messages)])
        if invented:
            log.warning("answer without data stated figures no tool returned: %s", invented)
            text = NO_DATA
        await stream_token(text)
        return text, usage

    async def _research(
        self,
        query: str,
        history: MessageHistory,
        on_progress: ProgressCallback | None,
        user: str | None,
        started: float,
    ) -> AgentResult:
        run = _Run(on_progress)
        context = await self._context(history, query, run)
        history_messages = context.messages()

        await emit(on_progress, PhaseStarted(phase="understanding"))
        step = time.perf_counter()
        understanding, usage = await understand(
            self.llm, query, history_messages, fallback=retrieval_query(query, history.turns)
        )
        run.spent("understand", usage, step)

        gathered = Gathered()
        iterations = 0
        missing: list[str] = []
        for iteration in range(1, self.config.max_iterations + 1):
            iterations = iteration
            await emit(on_progress, PhaseStarted(phase="planning", iteration=iteration))
            step = time.perf_counter()
            research_plan, usage = await plan(
                self.llm,
                understanding,
                self.tools.catalog(),
                missing=missing,
                done_calls=gathered.calls,
                id_prefix="" if iteration == 1 else f"r{iteration}",
            )
            run.spent("plan", usage, step)
            await emit(
                on_progress,
                PlanReady(
                    iteration=iteration,
                    tasks=research_plan.tasks,
                ),
            )

            await emit(on_progress, PhaseStarted(phase="executing", iteration=iteration))
            step = time.perf_counter()
            report = await execute(
                self.llm, research_plan.tasks, understanding, self.tools, gathered, on_progress
            )
            run.spent("execute", report.usage, step)
            if report.new_calls == 0:
                break
            if iteration == self.config.max_iterations or self._short_of_time(started):
                break

            await emit(on_progress, PhaseStarted(phase="reflecting", iteration=iteration))
            step = time.perf_counter()
            verdict, usage = await reflect(
                self.llm, understanding, gathered.text(budget=REFLECT_TOKENS_PER_RESULT)
            )
            run.spent("reflect", usage, step)
            if verdict.sufficient or not verdict.missing or self._short_of_time(started):
                break
            missing = verdict.missing

        await emit(on_progress, PhaseStarted(phase="answering"))
        step = time.perf_counter()

        async def stream_token(piece: str) -> None:
            await emit(on_progress, AnswerToken(text=piece))

        if gathered.all_failed:
            # a model shown only errors invents figures: say what could not be fetched
            text, usage = nothing_fetched(gathered), Usage()
            await stream_token(text)
        elif not gathered.results:
            text, usage = await self._answer_without_data(
                query, understanding, history_messages, stream_token
            )
        else:
            text, usage = await answer(
                self.llm, query, understanding, history_messages, gathered.text(), stream_token
            )
        run.spent("answer", usage, step)

        step = time.perf_counter()
        summary, usage = await summarise(
            self.llm if self.config.summarize_with_model else None, query, text
        )
        run.spent("summary", usage, step)

        sources = gathered.sources()
        turn = stored_turn(
            query,
            text,
            summary,
            await self._embed(turn_text(query, summary), run),
            user=user,
            sources=sources,
        )
        return AgentResult(
            query=query,
            answer=text,
            sources=sources,
            understanding=understanding,
            usage=run.usage,
            timings={k: round(v, 4) for k, v in run.timings.items()},
            seconds=time.perf_counter() - started,
            context_seqs=context.seqs,
            context_tokens=context.tokens,
            history_tokens=context.history_tokens,
            tool_calls=len(gathered.results),
            iterations=iterations,
            turn=turn,
            series=chart_series(gathered.results.values(), [*understanding.metrics, query]),
        )

    def _short_of_time(self, started: float) -> bool:
        """Whether what is left of the deadline is only the answer's reserve: the data
        gathered so far is then answered from, not risked on another round of research."""
        left = self.config.run_timeout - (time.perf_counter() - started)
        if left >= self.config.run_timeout * ANSWER_RESERVE_SHARE:
            return False
        log.info("answering with the data gathered so far: %.0f s of the deadline left", left)
        return True

    async def _embed(self, text: str, run: _Run) -> np.ndarray | None:
        """One embedding; None (lexical selection then) when embeddings are off or fail.

        A run makes at most two: the question's, to select earlier turns (skipped when
        there are none), and the finished turn's, stored with it. Stored turns are never
        embedded again: the question's vector alone knows nothing of what the answer
        found, so turns are embedded from their summary (`bench.context` measured 97 %
        needed-turn recall this way, 81 % when the question's vector is reused).
        """
        if self.embedder is None:
            return None
        step = time.perf_counter()
        try:
            vector = (await self.embedder.embed([text]))[0]
        except EmbeddingError as exc:
            log.warning("embedding failed, context selection falls back to BM25: %s", exc)
            return None
        finally:
            run.timings["embed"] = run.timings.get("embed", 0.0) + time.perf_counter() - step
        return vector

    async def _context(self, history: MessageHistory, query: str, run: _Run) -> ContextSelection:
        """The earlier turns `query` needs; a vague follow-up searches with recent companies."""
        if not history:
            return select_context((), query)
        wanted = retrieval_query(query, history.turns)
        return select_context(
            history.turns,
            wanted,
            query_embedding=await self._embed(wanted, run),
            recent=self.config.recent_turns,
            token_budget=self.config.context_token_budget,
            max_turns=self.config.max_context_turns,
            min_relevance=self.config.min_relevance,
        )


def stored_turn(
    question: str,
    answer: str,
    summary: str,
    embedding: np.ndarray | None,
    *,
    user: str | None = None,
    sources: tuple[Source, ...] = (),
) -> Turn:
    """A finished turn as it is stored: its token counts computed once, here.

    `embedding` is the vector of `turn_text(question, summary)`. The benchmarks build
    their turns with this too, so they measure what the agent writes.
    """
    question, answer, summary = plain_text(question), plain_text(answer), plain_text(summary)
    return Turn(
        question=question,
        answer=answer,
        summary=summary,
        user=user,
        embedding=embedding,
        question_tokens=count_tokens(question),
        answer_tokens=count_tokens(answer),
        summary_tokens=count_tokens(summary),
        sources=sources,
    )


def plain_text(text: str) -> str:
    """`text` without control characters but tab and newline (a NUL, say), which no model
    needs and PostgreSQL cannot store: one cleaning, before any model call and any store,
    so every backend keeps and returns the same text."""
    return text.translate(_CONTROL_CHARACTERS)


_CONTROL_CHARACTERS = dict.fromkeys([c for c in range(32) if chr(c) not in "\t\n"] + [127], None)


async def _report_waiting(on_progress: ProgressCallback | None) -> None:
    await asyncio.sleep(LOCK_WAIT_NOTICE_SECONDS)
    await emit(on_progress, PhaseStarted(phase="waiting"))
