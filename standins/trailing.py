"""Trailing-twelve-month statement rows, derived from four quarters as the market-data API does.

Shared by the stand-in (which serves `period=ttm` from quarterly fixtures) and the fixture
generator (whose TTM metrics must agree with what the stand-in serves).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Row = dict[str, Any]

NOT_SUMMED = frozenset(
    {
        "ticker",
        "report_period",
        "fiscal_period",
        "period",
        "currency",
        "ending_cash_balance",
        "weighted_average_shares",
        "weighted_average_shares_diluted",
    }
)


def trailing_row(quarters: Sequence[Row], *, point_in_time: bool) -> Row:
    """The TTM row ending at `quarters[-1]`: flows summed over the four quarters.

    A balance sheet is a point in time (`point_in_time`), so its TTM row is the latest
    quarter's.
    """
    latest = quarters[-1]
    row: Row = {**latest, "period": "ttm"}
    if point_in_time:
        return row
    for key, value in latest.items():
        if key in NOT_SUMMED or value is None:
            continue
        total = sum(quarter[key] for quarter in quarters)
        row[key] = round(total, 3) if isinstance(total, float) else total
    return row
