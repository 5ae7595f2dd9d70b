"""API session ids: minted here, checked strictly, and scoped to whoever holds them.

An API session id is `api:` + a random url-safe token (`api:{token}`), or, for a caller
identified by a JWT subject, `api:{owner}:{token}` where `owner` is a hash of the subject.
The token makes the id unguessable: holding it is what lets a caller use the session.

The shape is checked with one strict pattern before any store call, so the API can only
ever name sessions in the `api:` namespace: a Slack thread (`slack:T:C:ts`), a terminal
chat (`cli:…`) or anything else is refused before the store sees it. The owner part keeps
one JWT subject out of another's sessions (and key holders out of both).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

SESSION_PREFIX = "api"
TOKEN_BYTES = 24
TOKEN_CHARS = 32  # url-safe base64 of 24 bytes
OWNER_CHARS = 24

SESSION_ID_PATTERN = (
    rf"^{SESSION_PREFIX}:(?:[0-9a-f]{{{OWNER_CHARS}}}:)?[A-Za-z0-9_-]{{{TOKEN_CHARS}}}$"
)
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


class InvalidSessionId(ValueError):
    """The text is not an API session id; nothing was looked up."""


class ForeignSession(LookupError):
    """The id is well formed but belongs to another caller; answered like a missing one."""


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose sessions a caller may use: a JWT subject's, or the shared unscoped ones."""

    tag: str | None = None

    @classmethod
    def of_subject(cls, subject: str) -> Owner:
        """The owner for a JWT `sub`; hashed so subjects (often e-mails) never reach the store."""
        digest = hashlib.sha256(subject.encode()).hexdigest()
        return cls(digest[:OWNER_CHARS])

    def new_session_id(self) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        if self.tag is None:
            return f"{SESSION_PREFIX}:{token}"
        return f"{SESSION_PREFIX}:{self.tag}:{token}"

    def check(self, session_id: str) -> str:
        """`session_id` if this owner may use it; raises `InvalidSessionId` or `ForeignSession`."""
        if not _SESSION_ID.fullmatch(session_id):
            raise InvalidSessionId(
                "session ids look like api:<token>; get one from POST /agent/session"
            )
        parts = session_id.split(":")
        tag = parts[1] if len(parts) == 3 else None
        if tag != self.tag:
            raise ForeignSession("no such session for these credentials")
        return session_id


def log_label(session_id: str) -> str:
    """The session as logs show it: enough of the token to correlate, too little to use."""
    return f"{session_id[: -TOKEN_CHARS + 6]}…"
