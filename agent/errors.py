"""The agent's domain errors; the Slack and HTTP layers turn them into human messages."""

from __future__ import annotations

from typing import Literal

ModelTrouble = Literal["timeout", "unreachable", "busy", "refused", "rejected", "invalid"]

_ADVICE: dict[ModelTrouble, str] = {
    "timeout": "my language model took too long to reply. Please try again in a minute, "
    "or ask something narrower.",
    "unreachable": "I couldn't reach my language model just now. Please try again shortly.",
    "busy": "my language model is busy right now. Please try again in a minute.",
    "refused": "my language model refused my credentials; a Dexter admin needs to check "
    "its API key.",
    "rejected": "my language model could not handle this request. Please try again, or "
    "rephrase the question.",
    "invalid": "my language model's replies made no sense for this question. Please "
    "rephrase it and try again.",
}


class AgentError(Exception):
    """Base of the errors `Agent.run` raises after emitting an error event."""


class ModelError(AgentError):
    """The model could not be reached, kept failing, or answered unusably; `kind` says
    which, so the person is told something they can act on."""

    def __init__(self, message: str, kind: ModelTrouble = "rejected") -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def advice(self) -> str:
        """What happened, for the person who asked, after "Sorry, "."""
        return _ADVICE[self.kind]


class RunTimeout(AgentError):
    """One answer took longer than the person is asked to wait (`DEXTER_RUN_TIMEOUT`)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the answer took longer than {seconds:.0f} s")
        self.seconds = seconds

    @property
    def advice(self) -> str:
        """What happened, for the person who asked, after "Sorry, "."""
        return (
            f"this research was taking longer than the {duration(self.seconds)} I give an "
            "answer, so I stopped it. My language model may be busy or slow right now: "
            "please try again in a few minutes, or ask something narrower."
        )


def duration(seconds: float) -> str:
    """`seconds` as a person says it: "45 seconds", "2 minutes", "2.5 minutes"."""
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.3g} minutes"
