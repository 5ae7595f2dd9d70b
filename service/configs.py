"""Each layer's own small config, read from the settings: the one place they are mapped."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from agent import AgentConfig
from agent.factory import MarketDataConfig, ModelConfig, ResearchConfig
from api import APIConfig
from bot.app import SlackConfig
from settings import Settings

OPENAI_HOSTS = ("api.openai.com",)


class MissingSettings(Exception):
    """Dexter cannot start as configured; the message says what to set."""


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def research_config(settings: Settings) -> ResearchConfig:
    """The agent's configuration; without `OPENAI_API_KEY`, OpenAI's own API is refused at
    start-up rather than answering every question with a 401."""
    base_url = settings.openai_base_url
    if settings.openai_api_key is None and (
        base_url is None or urlsplit(base_url).hostname in OPENAI_HOSTS
    ):
        raise MissingSettings(
            "Dexter cannot reach its language model. Set OPENAI_API_KEY, or OPENAI_BASE_URL to "
            "a local OpenAI-compatible server (README.md § Configuration)."
        )
    messages = settings.dexter_max_context_messages
    return ResearchConfig(
        model=ModelConfig(
            api_key=secret(settings.openai_api_key),
            base_url=settings.openai_base_url,
            model=settings.dexter_model,
            fast_model=settings.dexter_fast_model,
            embedding_model=settings.dexter_embedding_model,
            timeout=settings.dexter_model_timeout,
            budget=settings.dexter_model_budget,
            retries=settings.dexter_model_retries,
        ),
        market_data=MarketDataConfig(
            api_key=secret(settings.financial_datasets_api_key),
            base_url=settings.financial_datasets_base_url,
            timeout=settings.dexter_tool_timeout,
            cache_ttl=settings.dexter_tool_cache_ttl,
            result_tokens=settings.dexter_tool_result_tokens,
        ),
        embeddings=settings.dexter_embeddings if settings.dexter_use_embeddings else None,
        agent=AgentConfig(
            max_iterations=settings.dexter_max_iterations,
            run_timeout=settings.dexter_run_timeout,
            slow_notice=settings.dexter_slow_notice,
            summarize_with_model=settings.dexter_summarize_llm,
            recent_turns=settings.dexter_recent_turns,
            # the original design counts messages; a turn is a question and its answer
            max_context_turns=None if messages is None else messages // 2,
            context_token_budget=settings.dexter_context_token_budget,
            min_relevance=settings.dexter_min_relevance,
            history_load_limit=settings.dexter_history_load_limit,
        ),
    )


def store_options(settings: Settings) -> dict[str, Any]:
    """`open_store`'s keyword arguments."""
    return {
        "retention_seconds": settings.retention_seconds,
        "redis_prefix": settings.dexter_redis_prefix,
        "max_sessions": settings.dexter_memory_max_sessions,
        "lock_ttl": settings.dexter_lock_ttl,
        "sealer": settings.sealer(),
    }


def api_config(settings: Settings) -> APIConfig:
    return APIConfig(
        api_key=secret(settings.backend_api_key),
        jwt_secret=secret(settings.jwt_secret),
        open_without_credentials=settings.dexter_api_enabled,
        host=settings.host,
        secure_cookies=settings.secure_cookies,
        max_query_chars=settings.dexter_max_query_chars,
        cookie_max_age=int(settings.retention_seconds),
    )


def slack_config(settings: Settings, *, socket_mode: bool) -> SlackConfig:
    """The Slack settings, or one clear message naming what is missing."""
    missing = []
    if settings.slack_bot_token is None:
        missing.append("SLACK_BOT_TOKEN (the Bot User OAuth Token, xoxb-…)")
    if not socket_mode and settings.slack_signing_secret is None:
        missing.append(
            "SLACK_APP_TOKEN for Socket Mode, as manifest.yml sets the app up (an app-level "
            "token with connections:write, xapp-…), or SLACK_SIGNING_SECRET to receive events "
            "over HTTP (Basic Information → Signing Secret)"
        )
    if missing or settings.slack_bot_token is None:
        raise MissingSettings(
            "Dexter cannot connect to Slack. Set "
            + " and ".join(missing)
            + " in the environment or .env; README.md § Slack set-up shows where to find them."
        )
    return SlackConfig(
        bot_token=settings.slack_bot_token.get_secret_value(),
        signing_secret=secret(settings.slack_signing_secret),
        api_url=settings.slack_api_url,
        follow_up_without_mention=settings.dexter_follow_up_without_mention,
        streaming=settings.dexter_streaming,
        charts=settings.dexter_charts,
        progress_interval=settings.dexter_progress_interval,
        shutdown_grace=settings.dexter_shutdown_grace,
        lease=settings.dexter_lock_ttl,
        retention_days=settings.dexter_retention_days,
        max_question_chars=settings.dexter_max_query_chars,
    )
