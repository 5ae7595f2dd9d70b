"""The agent and the clients it owns, built from the agent's own small configuration.

Each default lives in these dataclasses once; `settings` reads the environment into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from openai import AsyncOpenAI

from agent.embeddings import Embedder, build_embedder
from agent.llm import LLMClient
from agent.orchestrator import Agent, AgentConfig
from agent.tools import FinancialDatasetsClient, market_data_registry

# The SDK refuses to start without a key; a local OpenAI-compatible server ignores it.
PLACEHOLDER_API_KEY = "not-needed-for-local-servers"

EmbeddingKind = Literal["local", "openai", "lexical"]


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The OpenAI-compatible server and the models the phases use."""

    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4.1"
    fast_model: str | None = None
    embedding_model: str = "text-embedding-3-small"
    timeout: float = 30.0
    """Seconds per attempt: four fit in the default answer deadline (`AgentConfig`)."""
    budget: float = 180.0
    retries: int = 3

    @property
    def cheap_model(self) -> str:
        """The model for the cheap phases (understand, reflect, summaries)."""
        return self.fast_model or self.model


@dataclass(frozen=True, slots=True)
class MarketDataConfig:
    """The Financial Datasets API and how its results are cached and trimmed."""

    api_key: str | None = None
    base_url: str = "https://api.financialdatasets.ai"
    timeout: float = 20.0
    cache_ttl: float = 300.0
    result_tokens: int = 1500


@dataclass(frozen=True, slots=True)
class ResearchConfig:
    """Everything the agent is built from; `embeddings` None sends no vectors at all."""

    model: ModelConfig = field(default_factory=ModelConfig)
    market_data: MarketDataConfig = field(default_factory=MarketDataConfig)
    embeddings: EmbeddingKind | None = "local"
    agent: AgentConfig = field(default_factory=AgentConfig)


@dataclass
class AgentParts:
    """The agent and the clients it owns, so the app can close them on shutdown."""

    agent: Agent
    openai: AsyncOpenAI
    market_data: FinancialDatasetsClient

    async def close(self) -> None:
        await self.market_data.aclose()
        await self.openai.close()


def openai_client(config: ModelConfig) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=config.api_key or PLACEHOLDER_API_KEY,
        base_url=config.base_url,
        timeout=config.timeout,
        max_retries=config.retries,
    )


def embedder(config: ResearchConfig, client: AsyncOpenAI) -> Embedder | None:
    if config.embeddings is None:
        return None
    return build_embedder(
        config.embeddings, openai_client=client, model=config.model.embedding_model
    )


def build_agent(config: ResearchConfig) -> AgentParts:
    client = openai_client(config.model)
    data = config.market_data
    market_data = FinancialDatasetsClient(
        data.base_url, data.api_key, timeout=data.timeout, cache_ttl=data.cache_ttl
    )
    tools = market_data_registry(
        market_data,
        timeout=data.timeout,
        result_tokens=data.result_tokens,
        cache_ttl=data.cache_ttl,
    )
    llm = LLMClient(
        client,
        model=config.model.model,
        cheap_model=config.model.cheap_model,
        budget=config.model.budget,
        timeout=config.model.timeout,
        retries=config.model.retries,
    )
    agent = Agent(llm, tools, embedder=embedder(config, client), config=config.agent)
    return AgentParts(agent, client, market_data)
