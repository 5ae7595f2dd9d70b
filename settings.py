"""Dexter's configuration: read once from the environment and `.env` by `service/`.

Nothing else reads `os.environ` or this object: `service.configs` hands each layer its
own small config (`SlackConfig`, `ResearchConfig`, `APIConfig`, the store's options).
Defaults are those configs' own, taken from them here, so each is written once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent import AgentConfig
from agent.factory import EmbeddingKind, MarketDataConfig, ModelConfig
from api.config import APIConfig
from bot.app import SlackConfig
from stores import (
    DEFAULT_LOCK_TTL,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_REDIS_PREFIX,
    SECONDS_PER_DAY,
    EncryptionKeyError,
    Sealer,
)

DEFAULT_SQLITE_PATH = Path("data/dexter.db")
LogFormat = Literal["text", "json"]


def default(config: type, name: str) -> Any:
    """The default a layer's config dataclass gives its field `name`."""
    for found in dataclasses.fields(config):
        if found.name == name:
            return found.default
    raise AttributeError(f"{config.__name__} has no field {name!r}")


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
    slack_api_url: str = default(SlackConfig, "api_url")
    dexter_follow_up_without_mention: bool = default(SlackConfig, "follow_up_without_mention")
    dexter_streaming: bool = default(SlackConfig, "streaming")
    dexter_charts: bool = default(SlackConfig, "charts")
    dexter_progress_interval: float = Field(
        default(SlackConfig, "progress_interval"), gt=0, description="seconds between status edits"
    )
    dexter_shutdown_grace: float = Field(
        default(SlackConfig, "shutdown_grace"), ge=0, description="seconds answers may finish"
    )
    port: int = Field(3000, ge=1, le=65535)
    host: str = "0.0.0.0"

    # Model
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    dexter_model: str = default(ModelConfig, "model")
    dexter_fast_model: str | None = None
    dexter_embedding_model: str = default(ModelConfig, "embedding_model")
    dexter_model_timeout: float = Field(
        default(ModelConfig, "timeout"), gt=0, description="seconds per model call"
    )
    dexter_model_budget: float = Field(
        default(ModelConfig, "budget"), gt=0, description="seconds for all retries of a call"
    )
    dexter_model_retries: int = Field(default(ModelConfig, "retries"), ge=0, le=10)

    # Market data
    financial_datasets_api_key: SecretStr | None = None
    financial_datasets_base_url: str = default(MarketDataConfig, "base_url")
    dexter_tool_timeout: float = Field(default(MarketDataConfig, "timeout"), gt=0)
    dexter_tool_cache_ttl: float = Field(default(MarketDataConfig, "cache_ttl"), ge=0)
    dexter_tool_result_tokens: int = Field(default(MarketDataConfig, "result_tokens"), ge=100)

    # Agent
    dexter_max_iterations: int = Field(default(AgentConfig, "max_iterations"), ge=1, le=10)
    dexter_run_timeout: float = Field(
        default(AgentConfig, "run_timeout"),
        gt=0,
        validation_alias=AliasChoices("dexter_answer_deadline", "dexter_run_timeout"),
        description="seconds one whole answer may take (DEXTER_ANSWER_DEADLINE, or the "
        "older name DEXTER_RUN_TIMEOUT); every model call's timeout and retries fit inside",
    )
    dexter_slow_notice: float = Field(
        default(AgentConfig, "slow_notice"),
        gt=0,
        description="seconds after which the person is told the answer is taking long",
    )

    # Stores
    dexter_store_url: str | None = None
    redis_url: str | None = None
    database_url: str | None = None
    dexter_sqlite_path: Path = DEFAULT_SQLITE_PATH
    dexter_redis_prefix: str = DEFAULT_REDIS_PREFIX
    dexter_retention_days: float = Field(default(SlackConfig, "retention_days"), gt=0)
    dexter_memory_max_sessions: int = Field(
        DEFAULT_MAX_SESSIONS, ge=1, description="sessions a memory:// store keeps at most"
    )
    dexter_lock_ttl: float = Field(
        DEFAULT_LOCK_TTL, gt=0, description="seconds a crashed holder keeps a lock"
    )
    dexter_encryption_key: SecretStr | None = Field(
        None, description="keys sealing turns at rest, newest first, comma-separated"
    )

    # Context selection: which earlier turns of a thread the model sees
    dexter_summarize_llm: bool = default(AgentConfig, "summarize_with_model")
    dexter_use_embeddings: bool = True
    dexter_embeddings: EmbeddingKind = "local"
    dexter_max_context_messages: int | None = Field(
        None,
        ge=0,
        description="earlier messages sent at most (a turn is two); unset, the budget decides",
    )
    dexter_recent_turns: int = Field(default(AgentConfig, "recent_turns"), ge=0, le=50)
    dexter_context_token_budget: int = Field(default(AgentConfig, "context_token_budget"), ge=0)
    dexter_min_relevance: float = Field(
        default(AgentConfig, "min_relevance"),
        ge=-10,
        le=10,
        description="standard deviations above the thread's mean relevance",
    )
    dexter_history_load_limit: int = Field(
        default(AgentConfig, "history_load_limit"),
        ge=1,
        description="latest turns of a thread loaded to choose context from",
    )

    # HTTP session API
    backend_api_key: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    secure_cookies: bool = default(APIConfig, "secure_cookies")
    dexter_api_enabled: bool = default(APIConfig, "open_without_credentials")
    dexter_max_query_chars: int = Field(default(APIConfig, "max_query_chars"), ge=1)

    log_level: str = "INFO"
    log_format: LogFormat = "text"

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

    @field_validator("dexter_encryption_key")
    @classmethod
    def _usable_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                Sealer.from_setting(value.get_secret_value())
            except EncryptionKeyError as exc:
                raise ValueError(str(exc)) from None
        return value

    def sealer(self) -> Sealer | None:
        """What seals turns at rest, if `DEXTER_ENCRYPTION_KEY` is set."""
        keys = self.dexter_encryption_key
        return None if keys is None else Sealer.from_setting(keys.get_secret_value())

    @property
    def retention_seconds(self) -> float:
        return self.dexter_retention_days * SECONDS_PER_DAY

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
            self.dexter_encryption_key,
        ]
        values = [s.get_secret_value() for s in secrets if s is not None]
        for url in (self.dexter_store_url, self.redis_url, self.database_url):
            password = urlsplit(url).password if url else None
            if password:
                values.append(password)
        return values


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
