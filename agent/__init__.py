"""The research agent, free of Slack: `Agent.run(query, session_id=..., store=...)`."""

from agent.errors import AgentError, ModelError, RunTimeout
from agent.orchestrator import Agent, AgentConfig, AgentResult, Researcher

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentResult",
    "ModelError",
    "Researcher",
    "RunTimeout",
]
