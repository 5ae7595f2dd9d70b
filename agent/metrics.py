"""What the research service counts, for `/metrics` (Prometheus, the process's registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from agent.errors import AgentError, ModelError, RunTimeout
from agent.orchestrator import AgentResult
from agent.progress import ProgressEvent, ToolFinished
from stores import StoreUnavailable

SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160)

ANSWERS = Counter(
    "dexter_answers",
    "Answers finished, by outcome: answered, or the kind of failure.",
    ["outcome"],
)
PHASE_SECONDS = Histogram(
    "dexter_phase_seconds", "Seconds each agent phase took.", ["phase"], buckets=SECONDS
)
TOOL_SECONDS = Histogram(
    "dexter_tool_seconds", "Seconds each market-data call took.", ["tool", "ok"], buckets=SECONDS
)
MODEL_TOKENS = Counter(
    "dexter_model_tokens", "Model tokens spent, by phase and kind.", ["phase", "kind"]
)
HISTORY_TOKENS = Counter(
    "dexter_history_tokens",
    "Tokens of earlier turns: those sent to the model, and the whole history they came from "
    "(the saving context selection makes).",
    ["part"],
)
STORE_ERRORS = Counter(
    "dexter_store_errors", "Store calls that failed because the store was unavailable.", ["call"]
)


def record_answer(result: AgentResult) -> None:
    ANSWERS.labels("answered").inc()
    for phase, seconds in result.timings.items():
        PHASE_SECONDS.labels(phase).observe(seconds)
    for phase, usage in result.usage.items():
        MODEL_TOKENS.labels(phase, "prompt").inc(usage.prompt_tokens)
        MODEL_TOKENS.labels(phase, "completion").inc(usage.completion_tokens)
    HISTORY_TOKENS.labels("sent").inc(result.context_tokens)
    HISTORY_TOKENS.labels("whole").inc(result.history_tokens)


def record_failure(exc: BaseException) -> None:
    ANSWERS.labels(_outcome(exc)).inc()


def record_progress(event: ProgressEvent) -> None:
    if isinstance(event, ToolFinished):
        TOOL_SECONDS.labels(event.tool, str(event.ok).lower()).observe(event.seconds)


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, ModelError):
        return "model"
    if isinstance(exc, RunTimeout):
        return "timeout"
    if isinstance(exc, StoreUnavailable):
        return "store"
    if isinstance(exc, AgentError):
        return "agent"
    return "internal"
