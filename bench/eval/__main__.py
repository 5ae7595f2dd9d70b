"""Evaluate Dexter's answers: `python -m bench.eval [options]`.

    python -m bench.eval                         # stand-ins for model and data, ~1 min
    python -m bench.eval --tags thread --modes selection,none
    python -m bench.eval --only aapl-revenue-fy2023 --json /tmp/eval.json
    python -m bench.eval --model-server env      # OPENAI_BASE_URL / DEXTER_MODEL / key
    python -m bench.eval --model-server http://127.0.0.1:8080/v1 --model qwen2.5-1.5b
    python -m bench.eval --model-server env --market-data env   # FINANCIAL_DATASETS_*

`DEXTER_EVAL_JUDGE_MODEL` adds a model judge on the same server, reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent.factory import ResearchConfig
from bench.eval.harness import (
    CONFIGURED,
    STANDIN,
    Target,
    evaluate,
    scorer_for,
    target_settings,
)
from bench.eval.questions import QUESTIONS, Item, load_items, select
from bench.eval.report import PRICES, Pricing, print_report, write_json
from bench.eval.runner import THREAD_MODES, Mode, TurnRecord
from service.configs import research_config

WIDTH_WHEN_PIPED = 160  # rich's default of 80 columns folds the per-question table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.eval", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model-server",
        default=STANDIN,
        help=f"'{STANDIN}' (default), '{CONFIGURED}' (OPENAI_BASE_URL etc.) or a base URL",
    )
    parser.add_argument(
        "--market-data",
        default=STANDIN,
        help=f"'{STANDIN}' (default), '{CONFIGURED}' (FINANCIAL_DATASETS_*) or a base URL",
    )
    parser.add_argument("--model", help="model name (default: DEXTER_MODEL)")
    parser.add_argument("--fast-model", help="model of the cheap phases (DEXTER_FAST_MODEL)")
    parser.add_argument(
        "--modes",
        default=",".join(THREAD_MODES),
        help="context modes for threads, comma-separated: full, selection, none",
    )
    parser.add_argument("--only", default="", help="item ids to run, comma-separated")
    parser.add_argument("--tags", default="", help="run items with any of these tags")
    parser.add_argument("--json", type=Path, help="write the full record to this file")
    parser.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="MODEL=IN,OUT",
        help="USD per million input and output tokens (overrides the built-in table)",
    )
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="the question set")
    parser.add_argument("--verbose", action="store_true", help="show the agent's log")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(THREAD_MODES)
    if unknown:
        parser.error(f"unknown mode: {', '.join(sorted(unknown))}")
    args.modes = cast(list[Mode], modes)
    return args


def prices(overrides: list[str]) -> dict[str, tuple[float, float]]:
    table = dict(PRICES)
    for entry in overrides:
        model, _, rates = entry.partition("=")
        rate_in, _, rate_out = rates.partition(",")
        table[model] = (float(rate_in), float(rate_out or rate_in))
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    items = select(load_items(args.questions), _listed(args.only), _listed(args.tags))
    target = Target(args.model_server, args.market_data, args.model, args.fast_model)
    console = Console() if sys.stdout.isatty() else Console(width=WIDTH_WHEN_PIPED)
    with target_settings(target) as settings:
        config = research_config(settings)
        pricing = Pricing(config.model.model, config.model.cheap_model, prices(args.price))
        console.print(
            f"[bold]Evaluating[/] {len(items)} items on {config.model.model} "
            f"({config.model.base_url or 'OpenAI'}), market data {config.market_data.base_url}"
        )
        records = asyncio.run(_run(config, items, target, args, console))
    print_report(records, pricing, console)
    if args.json:
        write_json(args.json, records, pricing)
        console.print(f"Full record: {args.json}")
    return 0


async def _run(
    config: ResearchConfig,
    items: list[Item],
    target: Target,
    args: argparse.Namespace,
    console: Console,
) -> list[TurnRecord]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("answering", total=None)

        def started(total: int) -> None:
            progress.update(task, total=total)

        def answered(record: TurnRecord) -> None:
            mark = "✓" if record.score.correct else "✗"
            progress.update(task, advance=1, description=f"{mark} {record.item} [{record.mode}]")

        return await evaluate(
            config,
            items,
            scorer_for(target),
            modes=args.modes,
            judge_model=os.environ.get("DEXTER_EVAL_JUDGE_MODEL") or None,
            on_answer=answered,
            on_start=started,
        )


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    sys.exit(main())
