"""Dexter's configuration: read once from the environment and `.env`, then passed down.

Nothing below `app.py` reads `os.environ`; it gets this object (or values from it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data/dexter.db")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    """Every knob Dexter has. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    dexter_follow_up_without_mention: bool = True
    dexter_progress_interval: float = Field(1.2, gt=0, description="seconds between status edits")
    dexter_shutdown_grace: float = Field(20.0, ge=0, description="seconds answers may finish")
    port: int = Field(3000, ge=1, le=65535)
    host: str = "0.0.0.0"

    # Model
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    dexter_model: str = "gpt-4.1"
    dexter_fast_model: str | None = None
    dexter_embedding_model: str = "text-embedding-3-small"
    dexter_model_timeout: float = Field(60.0, gt=0, description="seconds per model call")
    dexter_model_budget: float = Field(180.0, gt=0, description="seconds for all retries of a call")
    dexter_model_retries: int = Field(3, ge=0, le=10)

    # Market data
    financial_datasets_api_key: SecretStr | None = None
    financial_datasets_base_url: str = "https://api.financialdatasets.ai"
    dexter_tool_timeout: float = Field(20.0, gt=0)
    dexter_tool_cache_ttl: float = Field(300.0, ge=0)
    dexter_tool_result_tokens: int = Field(1500, ge=100)

    # Agent
    dexter_max_iterations: int = Field(3, ge=1, le=10)
    dexter_run_timeout: float = Field(300.0, gt=0, description="seconds for one whole answer")

    # Stores
    dexter_store_url: str | None = None
    redis_url: str | None = None
    database_url: str | None = None
    dexter_sqlite_path: Path = DEFAULT_SQLITE_PATH
    dexter_redis_prefix: str = "dexter"
    dexter_retention_days: float = Field(30.0, gt=0)
    dexter_memory_max_sessions: int = Field(10_000, ge=1)
    dexter_lock_ttl: float = Field(60.0, gt=0, description="seconds a crashed holder keeps a lock")

    # Memory
    dexter_summarize_llm: bool = False
    dexter_use_embeddings: bool = True
    dexter_embeddings: Literal["local", "openai", "lexical"] = "local"
    dexter_max_context_messages: int | None = Field(
        None, ge=0, description="earlier turns sent at most; unset, the token budget decides"
    )
    dexter_recent_turns: int = Field(1, ge=0, le=50)
    dexter_context_token_budget: int = Field(2000, ge=0)
    dexter_min_relevance: float = Field(
        0.5, ge=-10, le=10, description="standard deviations above the thread's mean relevance"
    )
    dexter_history_load_limit: int = Field(
        2000, ge=1, description="latest turns of a thread loaded to choose context from"
    )

    # HTTP session API
    backend_api_key: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    secure_cookies: bool = False
    dexter_api_enabled: bool = False
    dexter_max_query_chars: int = Field(4000, ge=1)

    log_level: str = "INFO"

    @field_validator("slack_api_url")
    @classmethod
    def _ends_with_slash(cls, value: str) -> str:
        """slack_sdk joins method names onto it: without the slash `/api` would be lost."""
        return value if value.endswith("/") else value + "/"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @property
    def store_url(self) -> str:
        """`DEXTER_STORE_URL`, else `REDIS_URL`, else `DATABASE_URL`, else embedded SQLite."""
        for url in (self.dexter_store_url, self.redis_url, self.database_url):
            if url:
                return url
        return f"sqlite+aiosqlite:///{self.dexter_sqlite_path}"

    @property
    def retention_seconds(self) -> float:
        return self.dexter_retention_days * 86_400

    def secret_values(self) -> list[str]:
        """Every secret that is set, so logging can mask it wherever it appears."""
        secrets = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.openai_api_key,
            self.financial_datasets_api_key,
            self.backend_api_key,
            self.jwt_secret,
        ]
        values = [s.get_secret_value() for s in secrets if s is not None]
        for url in (self.dexter_store_url, self.redis_url, self.database_url):
            password = urlsplit(url).password if url else None
            if password:
                values.append(password)
        return values

    @property
    def cheap_model(self) -> str:
        """The model for the cheap phases (understand, reflect, summaries)."""
        return self.dexter_fast_model or self.dexter_model


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's error into one line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            shown = "" if _is_secret(name) else f" (got {error.get('input')!r})"
            lines.append(f"{name}: {error['msg']}{shown}")
        raise SettingsError("Invalid configuration:\n  " + "\n  ".join(lines)) from None


def _is_secret(name: str) -> bool:
    return any(word in name for word in ("TOKEN", "SECRET", "KEY", "PASSWORD", "URL"))
