"""The research agent's tools: market data from the Financial Datasets API.

Build once at start-up and share:

    client = FinancialDatasetsClient(base_url, api_key, timeout=..., cache_ttl=...)
    registry = market_data_registry(client, timeout=..., result_tokens=...)
    tools = registry.openai_tools()                  # for chat.completions.create(tools=...)
    result = await registry.execute(name, arguments)  # a ToolResult, never an exception
"""

from agent.tools.envelope import ToolResult
from agent.tools.errors import ToolError
from agent.tools.financial_datasets import ApiResponse, DateFilter, FinancialDatasetsClient
from agent.tools.market_data import market_data_registry, market_data_tools
from agent.tools.registry import CallPreview, Tool, ToolOutput, ToolRegistry

__all__ = [
    "ApiResponse",
    "CallPreview",
    "DateFilter",
    "FinancialDatasetsClient",
    "Tool",
    "ToolError",
    "ToolOutput",
    "ToolRegistry",
    "ToolResult",
    "market_data_registry",
    "market_data_tools",
]
