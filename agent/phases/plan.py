"""Plan: 2-5 data-gathering tasks with dependencies, and re-planning after reflection."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from agent.llm import InvalidReply, LLMClient, Message, Usage
from agent.prompts import (
    PLAN_AGAIN,
    PLAN_MAX_TOKENS,
    PLAN_SYSTEM,
    Plan,
    PlanReply,
    Task,
    Understanding,
    fenced,
)

log = logging.getLogger(__name__)

MAX_TASKS = 5


async def plan(
    llm: LLMClient,
    understanding: Understanding,
    tool_catalog: str,
    *,
    missing: Sequence[str] = (),
    done_calls: Sequence[str] = (),
    id_prefix: str = "",
) -> tuple[Plan, Usage]:
    """Tasks for the question; after a reflection, only the tasks for what is missing.

    Tasks that are not in words, or repeat another, are dropped; a plan left empty falls
    back to one task, the understood question, so garbage never reaches the display.
    """
    request = _describe(understanding)
    if missing:
        done = "\n".join(f"- {call}" for call in done_calls) or "- none"
        request += "\n\n" + PLAN_AGAIN.format(missing="; ".join(missing), done=done)
    messages: list[Message] = [
        {"role": "system", "content": PLAN_SYSTEM.format(tools=tool_catalog)},
        {"role": "user", "content": request},
    ]
    try:
        reply, usage = await llm.structured(messages, PlanReply, max_tokens=PLAN_MAX_TOKENS)
    except InvalidReply as exc:
        log.warning("plan step fell back to a one-task plan: %s", exc)
        fallback = Plan(tasks=[Task(id="t1", description=understanding.resolved_query)])
        return tidy(fallback, id_prefix), exc.usage
    return tidy(reply, id_prefix), usage


def tidy(raw: Plan, id_prefix: str = "") -> Plan:
    """At most five tasks with unique ids, dependencies only on earlier tasks (so no cycles)."""
    tasks: list[Task] = []
    renamed: dict[str, str] = {}
    for index, task in enumerate(raw.tasks[:MAX_TASKS], start=1):
        new_id = f"{id_prefix}t{index}"
        depends = [renamed[d] for d in task.depends_on if d in renamed]
        renamed[task.id] = new_id
        tasks.append(
            Task(
                id=new_id,
                description=task.description.strip(),
                tools=task.tools,
                depends_on=depends,
            )
        )
    return Plan(tasks=tasks)


def waves(tasks: Sequence[Task]) -> list[list[Task]]:
    """Tasks grouped so each group depends only on earlier groups; a group runs in parallel."""
    level: dict[str, int] = {}
    for task in tasks:
        level[task.id] = 1 + max((level[d] for d in task.depends_on if d in level), default=-1)
    grouped: dict[int, list[Task]] = {}
    for task in tasks:
        grouped.setdefault(level[task.id], []).append(task)
    return [grouped[k] for k in sorted(grouped)]


def _describe(understanding: Understanding) -> str:
    lines = ["Question:", fenced("question", understanding.resolved_query)]
    for label, values in (
        ("Tickers", understanding.tickers),
        ("Companies", understanding.companies),
        ("Periods", understanding.periods),
        ("Metrics", understanding.metrics),
    ):
        if values:
            lines.append(f"{label}: {', '.join(values)}")
    return "\n".join(lines)
