"""The LoCoMo benchmark reads any folder of conversations in LoCoMo's format.

A small conversation written here (never LoCoMo's own data) goes through the command a
reviewer runs, `python -m bench.context --locomo DIR --json PATH`, in a process of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

CONVERSATION = {
    "speaker_a": "Ana",
    "speaker_b": "Ben",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
        {"speaker": "Ana", "dia_id": "D1:1", "text": "Hi Ben! How was your week?"},
        {"speaker": "Ben", "dia_id": "D1:2", "text": "Busy. I adopted a grey kitten named Miso."},
        {"speaker": "Ana", "dia_id": "D1:3", "text": "Lovely! I started learning the cello."},
        {
            "speaker": "Ben",
            "dia_id": "D1:4",
            "text": "Look at this.",
            "blip_caption": "a photo of a kitten asleep on a keyboard",
        },
    ],
    "session_2_date_time": "3:10 pm on 20 May, 2023",
    "session_2": [
        {"speaker": "Ana", "dia_id": "D2:1", "text": "My cello teacher says I am improving."},
        {"speaker": "Ben", "dia_id": "D2:2", "text": "I ran a half marathon in Porto."},
        {"speaker": "Ana", "dia_id": "D2:3", "text": "Porto must have been beautiful."},
        {"speaker": "Ben", "dia_id": "D2:4", "text": "It was, and the kitten missed me."},
    ],
    "session_3_date_time": "10:00 am on 2 June, 2023",
    "qa": [
        {"question": "What pet did Ben adopt?", "answer": "a kitten", "evidence": ["D1:2"],
         "category": 4},
        {"question": "What instrument is Ana learning?", "answer": "cello",
         "evidence": ["D1:3; D2:1"], "category": 1},
        {"question": "Where did Ben run?", "answer": "Porto", "evidence": ["D2:2", "D9:9"],
         "category": 2},
        {"question": "What is Ben's favourite film?", "answer": "not mentioned",
         "evidence": [], "category": 5},
        {"question": "Which evidence is lost?", "answer": "?", "evidence": ["D7:1"],
         "category": 4},
    ],
}  # fmt: skip


CONVERSATION["session_3"] = [  # small talk, so that a share of the tokens holds a few turns
    {
        "speaker": "Ana" if n % 2 else "Ben",
        "dia_id": f"D3:{n}",
        "text": f"Chatting about the weather on day {n}: {'sunny' if n % 3 else 'rainy'}.",
    }
    for n in range(1, 41)
]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.context", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_folder_of_conversations_gives_every_selector_at_every_budget(tmp_path: Path) -> None:
    folder = tmp_path / "conversations"
    folder.mkdir()
    (folder / "7.json").write_text(json.dumps(CONVERSATION), encoding="utf-8")
    out = tmp_path / "figures.json"

    done = run_bench("--locomo", str(folder), "--json", str(out))

    assert done.returncode == 0, done.stderr
    assert "3 questions" in done.stdout  # category 5 and unresolvable evidence left out
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert set(figures["selectors"]) == {"dexter", "recency", "bm25", "minilm", "rrf"}
    for by_budget in figures["selectors"].values():
        assert set(by_budget) == {"0.1", "0.2", "0.3"}
        for budget, cell in by_budget.items():
            assert set(cell) == {"recall_all", "recall_any", "token_share"}
            assert 0 <= cell["recall_all"] <= cell["recall_any"] <= 1
            assert 0 <= cell["token_share"] <= float(budget)
    assert figures["selectors"]["dexter"]["0.3"]["recall_any"] == 1.0


def test_a_missing_folder_is_skipped_with_a_message(tmp_path: Path) -> None:
    done = run_bench("--locomo", str(tmp_path / "absent"))

    assert done.returncode == 0, done.stderr
    assert "LoCoMo: skipped" in done.stdout
