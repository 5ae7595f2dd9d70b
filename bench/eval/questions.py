"""The question set: single questions and threads, with what each answer must state.

The set is data (`questions.yaml`); an expectation names market-data references, never
numbers, so it stays true when the fixtures change (`references`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.eval.references import Figure, Ref, parse_figure

QUESTIONS = Path(__file__).with_name("questions.yaml")


@dataclass(frozen=True, slots=True)
class Expectation:
    """What one answer must hold: figures, quoted texts, or "the data is not there"."""

    figures: tuple[Figure, ...] = ()
    texts: tuple[Ref, ...] = ()
    unavailable: bool = False

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(ref for figure in self.figures for ref in figure.refs) + self.texts


@dataclass(frozen=True, slots=True)
class Turn:
    ask: str
    expect: Expectation


@dataclass(frozen=True, slots=True)
class Item:
    """One question, or a thread whose later turns lean on the earlier ones."""

    id: str
    tags: tuple[str, ...]
    turns: tuple[Turn, ...]

    @property
    def is_thread(self) -> bool:
        return len(self.turns) > 1


def load_items(path: Path = QUESTIONS) -> list[Item]:
    """Every item of the set, checked: unique ids, well-formed references."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = [_item(entry) for entry in raw]
    ids = [item.id for item in items]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate item ids in {path.name}: {', '.join(sorted(duplicates))}")
    return items


def select(items: Iterable[Item], only: Sequence[str] = (), tags: Sequence[str] = ()) -> list[Item]:
    """The slice to rerun: items named in `only`, or carrying any of `tags` (all if neither)."""
    chosen = [
        item
        for item in items
        if (not only or item.id in only) and (not tags or set(tags) & set(item.tags))
    ]
    unknown = set(only) - {item.id for item in chosen}
    if unknown:
        raise ValueError(f"no such item: {', '.join(sorted(unknown))}")
    return chosen


def _item(entry: dict[str, Any]) -> Item:
    turns = entry.get("turns") or [entry]
    return Item(
        id=str(entry["id"]),
        tags=tuple(entry.get("tags", ())),
        turns=tuple(Turn(str(turn["ask"]), _expectation(turn)) for turn in turns),
    )


def _expectation(turn: dict[str, Any]) -> Expectation:
    return Expectation(
        figures=tuple(parse_figure(figure) for figure in turn.get("figures", ())),
        texts=tuple(Ref.parse(text) for text in turn.get("texts", ())),
        unavailable=bool(turn.get("unavailable", False)),
    )
