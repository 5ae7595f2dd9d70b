"""The whole evaluation: the model server and market data to use, the run, the scorer.

By default both are the test stand-ins, started here on loopback, so the run needs no
set-up and no network. Either can be the configured one instead (`OPENAI_BASE_URL`,
`DEXTER_MODEL`, `FINANCIAL_DATASETS_*` from the environment or `.env`) or a URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.factory import ResearchConfig
from bench.eval.judge import model_judge
from bench.eval.questions import Item
from bench.eval.references import FixtureData
from bench.eval.runner import THREAD_MODES, Mode, Runner, TurnRecord, build_agents
from bench.eval.scoring import Scorer
from settings import Settings, load_settings
from standins.market_data import API_KEY as MARKET_DATA_KEY
from standins.market_data import FIXTURES, MarketDataServer
from standins.openai_server import API_KEY as MODEL_KEY
from standins.openai_server import OpenAIStandin

STANDIN = "standin"
CONFIGURED = "env"
STANDIN_MODEL = "standin"


@dataclass(frozen=True, slots=True)
class Target:
    """Where answers come from: `standin`, `env` (the configured one) or a URL, each."""

    model_server: str = STANDIN
    market_data: str = STANDIN
    model: str | None = None
    fast_model: str | None = None

    @property
    def all_standins(self) -> bool:
        return self.model_server == STANDIN and self.market_data == STANDIN


@contextmanager
def target_settings(target: Target, **overrides: Any) -> Iterator[Settings]:
    """Settings for `target`, with the stand-ins it names running until the block ends.

    A run on the stand-ins alone ignores `.env`, so a developer's keys cannot leak into it.
    """
    values: dict[str, Any] = {"log_level": "WARNING", **overrides}
    with ExitStack() as stack:
        if target.model_server == STANDIN:
            model = OpenAIStandin()
            model.server.start()
            stack.callback(model.server.stop)
            values |= {
                "openai_api_key": MODEL_KEY,
                "openai_base_url": model.url,
                "dexter_model": STANDIN_MODEL,
            }
        elif target.model_server != CONFIGURED:
            values["openai_base_url"] = target.model_server
        if target.market_data == STANDIN:
            data = stack.enter_context(MarketDataServer())
            values |= {
                "financial_datasets_api_key": MARKET_DATA_KEY,
                "financial_datasets_base_url": data.url,
            }
        elif target.market_data != CONFIGURED:
            values["financial_datasets_base_url"] = target.market_data
        if target.model:
            values["dexter_model"] = target.model
        if target.fast_model:
            values["dexter_fast_model"] = target.fast_model
        if target.all_standins:
            values["_env_file"] = None
        yield load_settings(**values)


def company_names(folder: Path = FIXTURES) -> dict[str, str]:
    """Ticker -> the short name an answer may use instead ("Apple" for AAPL)."""
    names = {}
    for path in folder.glob("*.json"):
        company = json.loads(path.read_text(encoding="utf-8"))["company"]
        names[company["ticker"]] = company["name"].split()[0].rstrip(".,").split(".")[0]
    return names


def scorer_for(target: Target) -> Scorer:
    """References from the fixtures on the stand-in, else from what the tools returned."""
    data = FixtureData(FIXTURES) if target.market_data == STANDIN else None
    return Scorer(data, company_names())


async def evaluate(
    config: ResearchConfig,
    items: Sequence[Item],
    scorer: Scorer,
    *,
    modes: Sequence[Mode] = THREAD_MODES,
    judge_model: str | None = None,
    on_answer: Callable[[TurnRecord], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[TurnRecord]:
    """Ask every item (threads once per mode) and score each answer."""
    agents = build_agents(config)
    try:
        judge = model_judge(agents.openai, judge_model) if judge_model else None
        runner = Runner(agents, scorer, modes=modes, judge=judge)
        if on_start is not None:
            on_start(runner.runs(items))
        for agent in {id(a): a for a in agents.agents.values()}.values():
            await agent.warm_up()
        return await runner.run(items, on_answer)
    finally:
        await agents.close()
