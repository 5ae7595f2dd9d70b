"""What the session API is configured with; `settings` fills it from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from agent import MAX_QUESTION_CHARS
from stores import DEFAULT_RETENTION_SECONDS


@dataclass(frozen=True, slots=True)
class APIConfig:
    """Credentials (`BACKEND_API_KEY`, `JWT_SECRET`), whether to serve without any
    (`DEXTER_API_ENABLED`, loopback `host` only), and the limits of a request."""

    api_key: str | None = None
    jwt_secret: str | None = None
    open_without_credentials: bool = False
    host: str = "127.0.0.1"
    secure_cookies: bool = False
    max_query_chars: int = MAX_QUESTION_CHARS
    cookie_max_age: int = int(DEFAULT_RETENTION_SECONDS)
