"""The agent's domain errors; the Slack and HTTP layers turn them into human messages."""

from __future__ import annotations


class AgentError(Exception):
    """Base of the errors `Agent.run` raises after emitting an error event."""


class ModelError(AgentError):
    """The model could not be reached, kept failing, or answered unusably."""


class RunTimeout(AgentError):
    """One answer took longer than the run's time budget."""
