"""`python app.py chat`: a terminal conversation with the same agent and store as Slack."""

from __future__ import annotations

import sys
import uuid
from typing import TextIO

from agent import AgentError
from agent.progress import (
    AnswerToken,
    ErrorEvent,
    PhaseStarted,
    PlanReady,
    ProgressEvent,
    ToolFinished,
    ToolStarted,
)
from service.runtime import Runtime
from stores import StoreUnavailable

CHAT_PREFIX = "cli"
EXIT_WORDS = {"exit", "quit", ":q"}


def progress_printer(out: TextIO):
    """Progress as dim lines, the answer streamed as it is written."""

    def show(event: ProgressEvent) -> None:
        if isinstance(event, PhaseStarted):
            out.write(f"  · {event.phase}…\n")
        elif isinstance(event, PlanReady):
            for task in event.tasks:
                out.write(f"    - {task.description}\n")
        elif isinstance(event, ToolStarted):
            out.write(f"    ↳ {event.label}\n")
        elif isinstance(event, ToolFinished) and not event.ok:
            out.write(f"    ✗ {event.label}: {event.error}\n")
        elif isinstance(event, AnswerToken):
            out.write(event.text)
        elif isinstance(event, ErrorEvent):
            out.write(f"\n  ! {event.message}\n")
        out.flush()

    return show


async def chat(
    runtime: Runtime, session: str | None, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> None:
    session_id = session or f"{CHAT_PREFIX}:{uuid.uuid4().hex[:12]}"
    earlier = (await runtime.research.history(session_id, limit=0)).total
    out.write(f"Dexter · session {session_id} ({earlier} earlier turns). Ctrl-D to leave.\n")
    show = progress_printer(out)
    while True:
        out.write("\nyou › ")
        out.flush()
        line = stdin.readline()
        if not line or line.strip().lower() in EXIT_WORDS:
            break
        if not line.strip():
            continue
        try:
            result = await runtime.research.answer(
                line.strip(), session_id=session_id, on_progress=show
            )
        except (AgentError, StoreUnavailable) as exc:
            out.write(f"\n(no answer: {exc})\n")
            continue
        if result.sources:
            out.write(
                "\n\nSources:\n" + "".join(f"  - {s.title}: {s.url}\n" for s in result.sources)
            )
        out.write(f"  ({result.seconds:.1f} s, {result.total_tokens} tokens)\n")
    out.write(f"\nResume with: python app.py chat --session {session_id}\n")
