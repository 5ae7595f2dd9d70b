"""The research agent, free of Slack: `ResearchService.answer(question, session_id=...)`."""

from agent.errors import AgentError, ModelError, RunTimeout
from agent.orchestrator import MAX_QUESTION_CHARS, Agent, AgentConfig, AgentResult
from agent.research import ResearchService

__all__ = [
    "MAX_QUESTION_CHARS",
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentResult",
    "ModelError",
    "ResearchService",
    "RunTimeout",
]
