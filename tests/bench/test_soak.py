"""The soak in miniature: two real instances on one SQLite file, Slack's double deliveries,
retries and twin events mixed in, and every question answered exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_small_soak_answers_every_question_once(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--store=sqlite",
            "--questions=20",
            "--threads=5",
            "--duration=2",
            "--model-latency=0",
            "--double=0.2",
            "--retry=0.2",
            "--twin=0.3",
            "--embeddings=lexical",
            "--settle=1",
            "--drain=60",
            f"--logs={tmp_path}",
            f"--json={report_path}",
        ],
        cwd=ROOT,
        check=True,
        timeout=100,
        capture_output=True,
    )
    report = json.loads(report_path.read_text())

    assert report["deliveries"] > report["questions"]  # the mischief did happen
    assert report["answers"] == report["questions"] == 20
    assert report["duplicates"] == 0
    assert report["lost"] == 0
    assert report["threads_out_of_order"] == 0
    assert report["waiting_in_inbox"] == 0
