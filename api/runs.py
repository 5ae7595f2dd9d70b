"""Agent runs started by API requests, as tasks that outlive the request.

Each run is an asyncio task feeding the agent's progress events into a queue that the SSE
stream drains. The task belongs to `AgentRuns`, not to the request: if the client
disconnects (or a JSON-mode request is cancelled), the run still finishes and its turn
is stored, so the answer is in the session's history when the client comes back. The
research service holds the session's lock for the whole run, so questions in one session
are answered one at a time, in the order they took the lock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from agent import AgentResult, ResearchService, log_context
from agent.progress import ProgressEvent
from api.errors import RunFailure, run_failure
from api.sessions import log_label

Outcome = AgentResult | RunFailure


@dataclass(frozen=True, slots=True)
class AgentRun:
    """One question being answered: its events (None marks the end) and its outcome."""

    session_id: str
    events: asyncio.Queue[ProgressEvent | None]
    task: asyncio.Task[Outcome]


class AgentRuns:
    """Starts runs and keeps them alive until they finish; one instance per app."""

    def __init__(self, research: ResearchService) -> None:
        self.research = research
        self._tasks: dict[str, set[asyncio.Task[Outcome]]] = {}

    def start(self, query: str, session_id: str, user: str | None) -> AgentRun:
        events: asyncio.Queue[ProgressEvent | None] = asyncio.Queue()
        task = asyncio.create_task(
            self._run(query, session_id, user, events), name=f"api answer {log_label(session_id)}"
        )
        self._tasks.setdefault(session_id, set()).add(task)
        task.add_done_callback(lambda done: self._forget(session_id, done))
        return AgentRun(session_id, events, task)

    async def drain(self) -> None:
        """Wait for every run in progress (on shutdown, so no answer is lost)."""
        while self._tasks:
            tasks = [task for tasks in self._tasks.values() for task in tasks]
            await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, session_id: str, task: asyncio.Task[Outcome]) -> None:
        tasks = self._tasks.get(session_id, set())
        tasks.discard(task)
        if not tasks:
            self._tasks.pop(session_id, None)

    async def _run(
        self,
        query: str,
        session_id: str,
        user: str | None,
        events: asyncio.Queue[ProgressEvent | None],
    ) -> Outcome:
        """The run's result, or what went wrong; never raises, so no failure goes unlogged."""
        log_context.about(session_id)
        try:
            return await self.research.answer(
                query, session_id=session_id, user=user, on_progress=events.put_nowait
            )
        except Exception as exc:  # every failure is reported to the client and logged once
            return run_failure(exc, log_label(session_id))
        finally:
            events.put_nowait(None)
