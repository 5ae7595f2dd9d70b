"""A question survives the trip through the shared store's inbox, and junk does not pass."""

from __future__ import annotations

import json

import pytest

from bot.questions import Question
from bot.threads import ThreadRef


def test_a_question_round_trips_through_its_stored_form() -> None:
    asked = Question(
        thread=ThreadRef("T0001", "C0001", "1700000000.000100"),
        ts="1700000000.000200",
        user="U0001",
        text='And Microsoft’s margin? ✓ "quoted"',
        mentioned=False,
        is_dm=False,
    )

    assert Question.from_json(asked.to_json()) == asked


@pytest.mark.parametrize(
    "stored",
    [
        "not json at all",
        "[]",
        json.dumps({"team": "T0001"}),
        json.dumps(
            {
                "team": "T0001",
                "channel": "C0001",
                "thread_ts": "abc",
                "ts": "1700000000.000200",
                "user": "U0001",
                "text": "q",
                "mentioned": True,
                "is_dm": False,
            }
        ),
        json.dumps(
            {
                "team": "T0001",
                "channel": "C0001",
                "thread_ts": "1700000000.000100",
                "ts": "1e3",
                "user": "U0001",
                "text": "q",
                "mentioned": True,
                "is_dm": False,
            }
        ),
    ],
)
def test_a_stored_form_that_is_not_a_question_is_refused(stored: str) -> None:
    with pytest.raises(ValueError, match=r"not a stored question|not a Slack thread"):
        Question.from_json(stored)
