"""Build the agent and its parts from the settings: the one place settings enter `agent/`."""

from __future__ import annotations

from dataclasses import dataclass

from openai import AsyncOpenAI

from agent.embeddings import Embedder, build_embedder
from agent.llm import LLMClient
from agent.orchestrator import Agent, AgentConfig
from agent.tools import FinancialDatasetsClient, market_data_registry
from settings import Settings

# The SDK refuses to start without a key; a local OpenAI-compatible server ignores it.
PLACEHOLDER_API_KEY = "not-needed-for-local-servers"


@dataclass
class AgentParts:
    """The agent and the clients it owns, so the app can close them on shutdown."""

    agent: Agent
    openai: AsyncOpenAI
    market_data: FinancialDatasetsClient

    async def close(self) -> None:
        await self.market_data.aclose()
        await self.openai.close()


def openai_client(settings: Settings) -> AsyncOpenAI:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return AsyncOpenAI(
        api_key=key or PLACEHOLDER_API_KEY,
        base_url=settings.openai_base_url,
        timeout=settings.dexter_model_timeout,
        max_retries=settings.dexter_model_retries,
    )


def agent_config(settings: Settings) -> AgentConfig:
    return AgentConfig(
        max_iterations=settings.dexter_max_iterations,
        run_timeout=settings.dexter_run_timeout,
        summarize_with_model=settings.dexter_summarize_llm,
        recent_turns=settings.dexter_recent_turns,
        max_context_turns=settings.dexter_max_context_messages,
        context_token_budget=settings.dexter_context_token_budget,
        min_relevance=settings.dexter_min_relevance,
        history_load_limit=settings.dexter_history_load_limit,
    )


def embedder(settings: Settings, client: AsyncOpenAI) -> Embedder | None:
    if not settings.dexter_use_embeddings:
        return None
    return build_embedder(
        settings.dexter_embeddings, openai_client=client, model=settings.dexter_embedding_model
    )


def build_agent(settings: Settings) -> AgentParts:
    client = openai_client(settings)
    key = settings.financial_datasets_api_key
    market_data = FinancialDatasetsClient(
        settings.financial_datasets_base_url,
        key.get_secret_value() if key else None,
        timeout=settings.dexter_tool_timeout,
        cache_ttl=settings.dexter_tool_cache_ttl,
    )
    tools = market_data_registry(
        market_data,
        timeout=settings.dexter_tool_timeout,
        result_tokens=settings.dexter_tool_result_tokens,
        cache_ttl=settings.dexter_tool_cache_ttl,
    )
    llm = LLMClient(
        client,
        model=settings.dexter_model,
        cheap_model=settings.cheap_model,
        budget=settings.dexter_model_budget,
    )
    agent = Agent(llm, tools, embedder=embedder(settings, client), config=agent_config(settings))
    return AgentParts(agent, client, market_data)
