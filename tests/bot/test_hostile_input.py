"""Whatever reaches `/slack/events`, it is answered with a 4xx or a 2xx, never a 5xx or a traceback.

Fixed cases reproduce what was found by hand; a property-based test (hypothesis) throws
mutated payloads, signed and unsigned, at the real endpoint of a running Dexter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.http import RefusalLog
from standins.slack_events import SIGNING_SECRET, event_callback, mention
from tests.bot.observe import answers, wait_until


def signed(body: bytes, stamp: str | None = None) -> dict[str, str]:
    stamp = str(int(time.time())) if stamp is None else stamp
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


BURST = RefusalLog.BURST
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

UNSIGNED = [
    ("timestamp abc", b"{}", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}),
    ("timestamp 1e3", b"{}", {"X-Slack-Request-Timestamp": "1e3", "X-Slack-Signature": "v0=00"}),
    ("empty timestamp", b"{}", {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": "v0=00"}),
    ("no headers", b"{}", {}),
    (
        "bad utf-8, unsigned",
        b"\xff\xfe{",
        {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "x"},
    ),
]

SIGNED_JSON = [
    ("bad utf-8", b'{"type": "event_callback", "x": "\xff"}'),
    ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
    ("a list", b"[]"),
    ("null", b"null"),
    ("a number", b"1"),
    ("a string", b'"event_callback"'),
    ("event as a list", json.dumps({"type": "event_callback", "event": []}).encode()),
    ("event as a string", json.dumps({"type": "event_callback", "event": "x"}).encode()),
    ("no event", json.dumps({"type": "event_callback", "team_id": "T1"}).encode()),
    ("event of no type", json.dumps({"type": "event_callback", "event": {"text": 1}}).encode()),
    (
        "mention with odd fields",
        json.dumps(
            {"type": "event_callback", "event": {"type": "app_mention", "text": [], "user": {}}}
        ).encode(),
    ),
    ("unknown type", json.dumps({"type": "nonsense"}).encode()),
]

SIGNED_FORM = [
    ("view_submission", urlencode({"payload": json.dumps({"type": "view_submission"})}).encode()),
    ("payload not json", urlencode({"payload": "{not json"}).encode()),
    ("payload a list", urlencode({"payload": "[1, 2]"}).encode()),
    ("block_actions bare", urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()),
    ("command bare", urlencode({"command": "/dexter-history"}).encode()),
    ("nothing", b""),
    ("bad utf-8 form", b"payload=%FF%FE"),
]


@pytest.fixture
async def dexter(start_dexter, model):
    return await start_dexter()


async def post(dexter, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await dexter.send.http.post(dexter.send.events_url, content=body, headers=headers)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("case", "body", "headers"), UNSIGNED, ids=[c[0] for c in UNSIGNED])
async def test_an_unsigned_request_is_refused_with_401(
    dexter, caplog, case: str, body: bytes, headers: dict[str, str]
) -> None:
    response = await post(dexter, body, {**JSON, **headers})

    assert response.status_code == 401, response.text
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(("case", "body"), SIGNED_JSON, ids=[c[0] for c in SIGNED_JSON])
async def test_a_signed_odd_json_body_gets_no_5xx(dexter, caplog, case: str, body: bytes) -> None:
    response = await post(dexter, body, {**JSON, **signed(body)})

    assert response.status_code < 500, response.text
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(("case", "body"), SIGNED_FORM, ids=[c[0] for c in SIGNED_FORM])
async def test_a_signed_odd_form_body_gets_no_5xx(dexter, caplog, case: str, body: bytes) -> None:
    response = await post(dexter, body, {**FORM, **signed(body)})

    assert response.status_code < 500, response.text
    assert tracebacks(caplog) == []


async def test_a_flood_of_refusals_logs_a_few_short_lines(dexter, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bot.http")
    junk = {**JSON, "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}

    statuses = {(await post(dexter, b"{}" * 500, junk)).status_code for _ in range(3 * BURST)}

    lines = [r.getMessage() for r in caplog.records if r.name == "bot.http"]
    assert statuses == {401}
    assert len(lines) == BURST and all(len(line) < 200 for line in lines)


async def test_after_all_that_a_real_question_is_answered(dexter) -> None:
    for _, body in SIGNED_JSON:
        await post(dexter, body, {**JSON, **signed(body)})
    question = mention("What was Apple's revenue in 2023?")

    body = json.dumps(event_callback(question)).encode()
    assert (await post(dexter, body, {**JSON, **signed(body)})).status_code == 200
    await wait_until(lambda: answers(dexter.slack, question["ts"]))


# --- property-based: mutated payloads, signed and unsigned ---------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
RESPONSE_URL = "the stand-in's response_url"
MENTION = mention("What was Apple's revenue?", ts="1710000000.999999")
ENVELOPE = event_callback(MENTION)
CLICK = {
    "type": "block_actions",
    "user": {"id": "U0ASKER", "team_id": "T0TEST"},
    "team": {"id": "T0TEST"},
    "channel": {"id": "C0001"},
    "container": {"type": "message", "channel_id": "C0001", "is_ephemeral": True},
    "actions": [{"action_id": "dexter_history_page", "value": '{"session_id":"x","page":2}'}],
    "response_url": RESPONSE_URL,
}
COMMAND = {
    "command": "/dexter-history",
    "text": "",
    "team_id": "T0TEST",
    "channel_id": "C0001",
    "user_id": "U0ASKER",
    "response_url": RESPONSE_URL,
}


def mutated(base: dict, values: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """`base` with up to three of its fields (or new ones) replaced and up to two dropped."""
    keys = st.sampled_from([*sorted(base), "type", "event", "payload", "user"])
    return st.tuples(
        st.dictionaries(keys, values, max_size=3),
        st.sets(st.sampled_from(sorted(base)), max_size=2),
    ).map(lambda change: {k: v for k, v in {**base, **change[0]}.items() if k not in change[1]})


def encoded(kind: str, payload: dict, response_url: str) -> tuple[bytes, str]:
    payload = {k: response_url if v == RESPONSE_URL else v for k, v in payload.items()}
    if kind == "json":
        return json.dumps(payload).encode(), "application/json"
    if kind == "payload form":
        return urlencode({"payload": json.dumps(payload)}).encode(), FORM["Content-Type"]
    fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
    return urlencode(fields).encode(), FORM["Content-Type"]


REQUESTS = st.one_of(
    st.tuples(st.just("json"), mutated(ENVELOPE, JSON_VALUES)),
    st.tuples(
        st.just("json"), mutated(MENTION, JSON_VALUES).map(lambda e: {**ENVELOPE, "event": e})
    ),
    st.tuples(st.just("payload form"), mutated(CLICK, JSON_VALUES)),
    st.tuples(st.just("command form"), mutated(COMMAND, st.text(max_size=30))),
)


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=REQUESTS, signature=st.sampled_from(["good", "none", "forged", "odd stamp"]))
async def test_mutated_payloads_never_get_a_5xx_or_a_traceback(
    dexter, caplog, request: tuple[str, dict], signature: str
) -> None:
    body, content_type = encoded(*request, dexter.send.response_url)
    headers = {"Content-Type": content_type}
    if signature == "good":
        headers |= signed(body)
    elif signature == "forged":
        headers |= {**signed(body), "X-Slack-Signature": "v0=" + "0" * 64}
    elif signature == "odd stamp":
        headers |= {**signed(body), "X-Slack-Request-Timestamp": "1e9"}
    seen = len(caplog.records)

    response = await post(dexter, body, headers)

    assert response.status_code < 500, (request, response.text)
    if signature != "good":
        assert response.status_code == 401
    assert [r.getMessage() for r in caplog.records[seen:] if r.exc_info] == []
