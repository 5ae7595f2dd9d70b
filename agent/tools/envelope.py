"""The one envelope every tool call returns, and the text of it the model reads.

A result carries the data (JSON-able), where it came from (`Source`: a title and the exact
API URL, which never holds the key) or why there is none (`error`, "no data: <reason>").
What the model sees is compact JSON within a token budget: when the data is too big it is
trimmed in steps that keep the most useful part (verbose fields go first, then later list
rows, then the tail of long texts) and a note says what was left out and how to get it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.tokens import count_tokens, truncate_to_tokens
from stores.models import Source

NO_DATA = "no data"
# Fields that cost tokens but rarely answer a question: epoch twins of ISO times, SEC ids
# (the accession number stays: it is how a filing's items are fetched), XBRL tags.
VERBOSE_FIELDS = frozenset({"time_milliseconds", "cik", "key", "axis", "calendar_date"})
SHORTEST_CLIPPED_TEXT = 200


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What one tool call produced: data and its source, or an error; never both.

    `tokens` is what `model_text()` costs, always within `token_budget`; `trimmed` says
    whether the data had to be cut to fit.
    """

    tool: str
    arguments: Mapping[str, Any]
    label: str
    token_budget: int
    data: Any = field(default=None, repr=False)
    source: Source | None = None
    error: str | None = None
    tokens: int = field(init=False)
    trimmed: bool = field(init=False)
    _text: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.error is not None:
            text, trimmed = truncate_to_tokens(self.error, self.token_budget), False
        else:
            text, trimmed = _render(self.data, self.source, self.token_budget)
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "trimmed", trimmed)
        object.__setattr__(self, "tokens", count_tokens(text))

    @classmethod
    def failure(
        cls,
        tool: str,
        arguments: Mapping[str, Any],
        reason: str,
        *,
        token_budget: int,
        label: str | None = None,
    ) -> ToolResult:
        """An error envelope; the model reads `no data: <reason>` and the run goes on."""
        return cls(
            tool=tool,
            arguments=arguments,
            label=label or tool,
            error=f"{NO_DATA}: {reason}",
            token_budget=token_budget,
        )

    @property
    def ok(self) -> bool:
        return self.error is None

    def model_text(self) -> str:
        """The text the model reads for this call: compact JSON, or the error line."""
        return self._text


def _render(data: Any, source: Source | None, budget: int) -> tuple[str, bool]:
    """`data` (with its source URL) as compact JSON within `budget` tokens; True if trimmed."""
    url = source.url if source is not None else None
    text = _compose(data, url, None)
    if _fits(text, budget):
        return text, False

    steps: list[str] = []
    value = data
    stripped, dropped = _without_fields(value, VERBOSE_FIELDS)
    if dropped:
        value = stripped
        steps.append(f"dropped the fields {', '.join(sorted(dropped))}")
        text = _compose(value, url, _note(budget, steps))
        if _fits(text, budget):
            return text, True

    longest = _longest_list(value)
    if longest > 1:
        rows = _largest_fitting(
            1,
            longest - 1,
            lambda k: _compose(_head(value, k), url, _note(budget, [*steps, _rows(k, longest)])),
            budget,
        )
        value = _head(value, rows)
        steps.append(_rows(rows, longest))
        text = _compose(value, url, _note(budget, steps))
        if _fits(text, budget):
            return text, True

    longest_text = _longest_string(value)
    if longest_text > SHORTEST_CLIPPED_TEXT:
        chars = _largest_fitting(
            SHORTEST_CLIPPED_TEXT,
            longest_text - 1,
            lambda n: _compose(_clip(value, n), url, _note(budget, [*steps, _texts(n)])),
            budget,
        )
        value = _clip(value, chars)
        steps.append(_texts(chars))
        text = _compose(value, url, _note(budget, steps))
        if _fits(text, budget):
            return text, True

    steps.append("cut the rest at the token budget")
    return truncate_to_tokens(_compose(value, url, _note(budget, steps)), budget), True


def _compose(value: Any, url: str | None, note: str | None) -> str:
    body: dict[str, Any] = {}
    if url is not None:
        body["source"] = url
    if note is not None:
        body["note"] = note
    body["data"] = value
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)


def _fits(text: str, budget: int) -> bool:
    return count_tokens(text) <= budget


def _note(budget: int, steps: list[str]) -> str:
    return (
        f"trimmed to fit {budget} tokens: {'; '.join(steps)}. Ask for a narrower period, a "
        "smaller limit or specific items to see the rest."
    )


def _rows(kept: int, longest: int) -> str:
    return f"kept the first {kept} rows of each list (the longest had {longest})"


def _texts(chars: int) -> str:
    return f"cut texts longer than {chars} characters"


def _largest_fitting(low: int, high: int, compose: Callable[[int], str], budget: int) -> int:
    """The largest n in [low, high] whose `compose(n)` fits the budget, else `low`."""
    best = low
    while low <= high:
        middle = (low + high) // 2
        if _fits(compose(middle), budget):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best


def _without_fields(value: Any, fields: frozenset[str]) -> tuple[Any, set[str]]:
    """`value` with `fields` removed from every object in it, and which were present."""
    dropped: set[str] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            kept = {}
            for key, child in node.items():
                if key in fields:
                    dropped.add(key)
                else:
                    kept[key] = walk(child)
            return kept
        if isinstance(node, list):
            return [walk(child) for child in node]
        return node

    return walk(value), dropped


def _head(value: Any, rows: int) -> Any:
    """`value` with every list cut to its first `rows` items (newest first, as the API sorts)."""
    if isinstance(value, dict):
        return {key: _head(child, rows) for key, child in value.items()}
    if isinstance(value, list):
        return [_head(child, rows) for child in value[:rows]]
    return value


def _clip(value: Any, chars: int) -> Any:
    """`value` with every string longer than `chars` cut to `chars` plus an ellipsis."""
    if isinstance(value, dict):
        return {key: _clip(child, chars) for key, child in value.items()}
    if isinstance(value, list):
        return [_clip(child, chars) for child in value]
    if isinstance(value, str) and len(value) > chars:
        return value[:chars] + "…"
    return value


def _longest_list(value: Any) -> int:
    if isinstance(value, dict):
        return max((_longest_list(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return max(len(value), max((_longest_list(child) for child in value), default=0))
    return 0


def _longest_string(value: Any) -> int:
    if isinstance(value, dict):
        return max((_longest_string(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return max((_longest_string(child) for child in value), default=0)
    return len(value) if isinstance(value, str) else 0
