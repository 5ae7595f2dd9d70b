"""`/metrics`: Prometheus figures of a running Dexter, guarded like the session API."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from standins.slack_events import mention
from tests.api.conftest import ACCEPT_JSON, AUTH, start_api
from tests.bot.conftest import start_dexter
from tests.bot.observe import answers, wait_until

__all__ = ["start_api", "start_dexter"]  # the fixtures of the API and bot tests, used here


def value(text: str, sample: str, **labels: str) -> float:
    """A sample's value in a /metrics page (0 when it has not been recorded yet)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


async def test_an_answer_moves_the_counters_and_histograms(start_api, model) -> None:
    api = await start_api()
    before = (await api.client.get("/metrics", headers=AUTH)).text

    response = await api.client.post(
        "/agent/query",
        json={"query": "What was Apple's revenue in 2023?"},
        headers={**AUTH, **ACCEPT_JSON},
    )
    after = (await api.client.get("/metrics", headers=AUTH)).text

    assert response.status_code == 200
    moved = {
        sample: value(after, sample, **labels) - value(before, sample, **labels)
        for sample, labels in [
            ("dexter_answers_total", {"outcome": "answered"}),
            ("dexter_phase_seconds_count", {"phase": "answer"}),
            ("dexter_tool_seconds_count", {"tool": "get_income_statements", "ok": "true"}),
            ("dexter_model_tokens_total", {"phase": "answer", "kind": "completion"}),
        ]
    }
    assert moved["dexter_answers_total"] == 1 and moved["dexter_phase_seconds_count"] == 1
    assert moved["dexter_tool_seconds_count"] >= 1 and moved["dexter_model_tokens_total"] > 0


async def test_metrics_beyond_loopback_need_the_apis_credentials(start_api) -> None:
    api = await start_api(host="0.0.0.0")

    refused = await api.client.get("/metrics")
    allowed = await api.client.get("/metrics", headers=AUTH)

    assert refused.status_code == 401
    assert allowed.status_code == 200 and "dexter_answers_total" in allowed.text


async def test_without_credentials_metrics_are_served_on_loopback_only(start_dexter) -> None:
    exposed = await start_dexter(host="0.0.0.0")
    local = await start_dexter(host="127.0.0.1")

    off = await exposed.send.http.get(f"{exposed.url}/metrics")
    on = await local.send.http.get(f"{local.url}/metrics")

    assert off.status_code == 404 and off.json()["error"] == "metrics_off"
    assert on.status_code == 200


async def test_slack_acks_and_questions_in_flight_are_measured(start_dexter, model) -> None:
    dexter = await start_dexter(host="127.0.0.1")
    metrics_url = f"{dexter.url}/metrics"
    before = (await dexter.send.http.get(metrics_url)).text
    question = mention("What was Apple's revenue in 2023?")

    await dexter.send.event(question)
    await dexter.send.event(question, retry_num=1)
    await wait_until(lambda: answers(dexter.slack, question["ts"]))
    await dexter.runtime.slack.answerer.drain()  # the answer shows before its worker ends
    after = (await dexter.send.http.get(metrics_url)).text

    acks = value(after, "dexter_slack_ack_seconds_count")
    assert acks - value(before, "dexter_slack_ack_seconds_count") == 2
    hits = value(after, "dexter_dedupe_hits_total", where="here")
    assert hits - value(before, "dexter_dedupe_hits_total", where="here") == 1
    assert value(after, "dexter_questions_waiting") == 0
