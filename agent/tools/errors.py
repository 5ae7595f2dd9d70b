"""The tools' one domain error."""

from __future__ import annotations


class ToolError(Exception):
    """A tool call cannot produce data: the API refused or failed, or the call was malformed.

    `reason` is written for the model (and a person reading logs): what went wrong and, when
    it helps, what to do instead. `ToolRegistry.execute` turns it into an error envelope,
    so it never escapes to the agent; `status` is the HTTP status when there was one.
    """

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
