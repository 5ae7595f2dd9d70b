"""A deploy stops Dexter with SIGTERM: answers in flight finish or are handed back, exit 0.

Dexter runs as a real process (`app.py`, HTTP mode), talking to the Slack, model and
market-data stand-ins of this test process; the signal is a real one.
"""

from __future__ import annotations

import json
import signal
import subprocess
from typing import Any

from standins.slack_events import CHANNEL, SlackSender, mention
from tests.bot.observe import answers, replies_begun, wait_until
from tests.service.conftest import until_serving


async def ask(url: str, slack, questions: list[str]) -> list[dict[str, Any]]:
    """Mention Dexter with each question in a thread of its own; wait until all are in work."""
    sender = SlackSender(url, slack.response_url())
    events = [mention(question) for question in questions]
    try:
        for event in events:
            assert (await sender.event(event)).status_code == 200
    finally:
        await sender.close()
    await wait_until(lambda: replies_begun(slack) >= len(events), within=60)
    return events


def stopped(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def thread_messages(slack, ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(CHANNEL) if m.get("thread_ts") == ts]


async def test_sigterm_lets_answers_in_flight_finish_then_exits_0(
    start_process, model, clean_slack_api
) -> None:
    model.latency = 0.5  # every model call; an answer takes a few seconds
    process, url = start_process(DEXTER_SHUTDOWN_GRACE="120")
    await until_serving(process, url)
    questions = ["What was Apple's revenue in 2023?", "What was Nvidia's revenue in 2024?"]
    events = await ask(url, clean_slack_api, questions)

    code, output = stopped(process)

    assert code == 0, output
    assert "Traceback" not in output
    for event in events:
        assert len(answers(clean_slack_api, event["ts"])) == 1
        shown = json.dumps(thread_messages(clean_slack_api, event["ts"]))
        assert "Researching" not in shown


async def test_sigterm_hands_back_what_the_grace_period_cannot_finish(
    start_process, model, clean_slack_api
) -> None:
    model.latency = 5.0  # no answer can finish within the grace period
    process, url = start_process(DEXTER_SHUTDOWN_GRACE="0.1")
    await until_serving(process, url)
    events = await ask(url, clean_slack_api, ["What was Apple's revenue in 2023?"] * 2)

    code, output = stopped(process)

    assert code == 0, output
    for event in events:
        (status,) = thread_messages(clean_slack_api, event["ts"])  # the status, replaced
        shown = json.dumps(status)
        assert "restarted before it could answer" in shown and "Researching" not in shown
        assert "Try again" in shown
        assert answers(clean_slack_api, event["ts"]) == []
