"""The Slack flow on the stores people deploy (SQLite, Redis), and a store that goes down."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.blocks import ACTION_RETRY
from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, mention, message
from tests.bot.observe import answers, wait_until
from tests.external_servers import REDIS_HOST, REDIS_PORT, redis_url
from tests.remembered import store_beside
from tests.stores.tcp_proxy import TCPProxy


@pytest.fixture
async def proxied_redis(redis_prefix: str) -> AsyncIterator[tuple[TCPProxy, dict[str, str]]]:
    """Redis behind a proxy the test can cut and restore, and the settings that reach it."""
    proxy = TCPProxy(REDIS_HOST, REDIS_PORT)
    await proxy.start()
    url = redis_url().replace(f"{REDIS_HOST}:{REDIS_PORT}", f"127.0.0.1:{proxy.port}")
    yield proxy, {"dexter_store_url": url, "dexter_redis_prefix": redis_prefix}
    await proxy.cut()


def is_apology(call) -> bool:
    """A status message replaced by an apology: it carries a reference id."""
    return "Reference" in json.dumps(call.params.get("blocks") or [])


async def apology_while_down(dexter, proxy: TCPProxy, event: dict):
    """Send `event` with the store cut off; the status message it gets back instead of an
    answer. The store is reachable again afterwards."""
    await proxy.cut()
    try:
        await dexter.send.event(event)
        return await dexter.slack.wait_for("chat.update", is_apology)
    finally:
        await proxy.restore()


@pytest.fixture(params=["sqlite", "redis"])
def durable_store(request: pytest.FixtureRequest, tmp_path) -> dict[str, str]:
    """Settings for a store that outlives the process: an SQLite file, or Redis."""
    if request.param == "sqlite":
        return {"dexter_store_url": f"sqlite+aiosqlite:///{tmp_path / 'dexter.db'}"}
    prefix = request.getfixturevalue("redis_prefix")
    return {"dexter_store_url": redis_url(), "dexter_redis_prefix": prefix}


async def test_a_thread_is_remembered_listed_and_erased(start_dexter, model, durable_store) -> None:
    dexter = await start_dexter(**durable_store)
    root = mention("What was Apple's revenue in 2023?")
    session = f"slack:{TEAM_ID}:{CHANNEL}:{root['ts']}"

    await dexter.send.event(root)
    await wait_until(lambda: answers(dexter.slack, root["ts"]))
    await dexter.send.event(message("And Microsoft's?", thread_ts=root["ts"]))
    await wait_until(lambda: len(answers(dexter.slack, root["ts"])) == 2)

    history = await dexter.remembered.load(session)
    assert [t.seq for t in history] == [1, 2]
    assert "What was Apple's revenue" in model.requests("understand")[-1].text
    listed = await dexter.remembered.sessions(f"slack:{TEAM_ID}:{CHANNEL}")
    assert [(s.session_id, s.turns) for s in listed] == [(session, 2)]
    assert await dexter.runtime.research.erase(session) == 2
    assert len(await dexter.remembered.load(session)) == 0


async def test_a_store_outage_gets_an_apology_and_the_retry_answers(
    start_dexter, model, proxied_redis
) -> None:
    proxy, store = proxied_redis
    dexter = await start_dexter(**store)
    question = mention("What was Apple's revenue in 2023?")
    dexter.slack.add_message(CHANNEL, question["text"], ts=question["ts"])

    apology = await apology_while_down(dexter, proxy, question)
    shown = json.dumps(apology.params["blocks"])
    assert "couldn't open this thread's memory" in shown and ACTION_RETRY in shown
    assert "127.0.0.1" not in shown

    await dexter.send.click(ACTION_RETRY, question["ts"], thread_ts=question["ts"])

    await wait_until(lambda: answers(dexter.slack, question["ts"]))
    history = await dexter.remembered.load(f"slack:{TEAM_ID}:{CHANNEL}:{question['ts']}")
    assert len(history) == 1


async def test_a_follow_up_while_the_store_is_down_hears_back_and_the_retry_answers(
    start_dexter, model, proxied_redis
) -> None:
    proxy, store = proxied_redis
    dexter = await start_dexter(**store)
    root = mention("What was Apple's revenue in 2023?")
    dexter.slack.add_message(CHANNEL, root["text"], ts=root["ts"])
    await dexter.send.event(root)
    await wait_until(lambda: answers(dexter.slack, root["ts"]))
    follow_up = message("And Microsoft's?", thread_ts=root["ts"])
    dexter.slack.add_message(CHANNEL, follow_up["text"], ts=follow_up["ts"], thread_ts=root["ts"])

    apology = await apology_while_down(dexter, proxy, follow_up)
    shown = json.dumps(apology.params["blocks"])
    assert "couldn't open this thread's memory" in shown and ACTION_RETRY in shown

    await dexter.send.click(ACTION_RETRY, follow_up["ts"], thread_ts=root["ts"])

    await wait_until(lambda: len(answers(dexter.slack, root["ts"])) == 2)
    history = await dexter.remembered.load(f"slack:{TEAM_ID}:{CHANNEL}:{root['ts']}")
    assert [t.question for t in history] == [
        "What was Apple's revenue in 2023?",
        "And Microsoft's?",
    ]


async def test_an_answer_cut_off_by_an_outage_does_not_hold_up_the_next_one(
    start_dexter, model, proxied_redis
) -> None:
    """The failed answer's lock is released once Redis is back, not left to expire: with a
    ten-minute lock TTL, the next answer in the thread would otherwise wait that long."""
    proxy, store = proxied_redis
    dexter = await start_dexter(**store, dexter_lock_ttl=600)
    root = mention("What was Apple's revenue in 2023?")
    dexter.slack.add_message(CHANNEL, root["text"], ts=root["ts"])
    model.latency = 0.3

    await dexter.send.event(root)
    await wait_until(lambda: model.requests("understand"))  # the thread's lock is held
    await proxy.cut()
    try:
        await dexter.slack.wait_for("chat.update", is_apology)
    finally:
        await proxy.restore()
    model.latency = 0.0
    await dexter.send.event(mention("And Microsoft's?", thread_ts=root["ts"]))

    await wait_until(lambda: answers(dexter.slack, root["ts"]), within=60)
    history = await dexter.remembered.load(f"slack:{TEAM_ID}:{CHANNEL}:{root['ts']}")
    assert [t.question for t in history] == ["And Microsoft's?"]


async def test_a_question_waiting_for_the_threads_lock_says_so_then_is_answered(
    start_dexter, model, redis_prefix
) -> None:
    """Another process answering in the thread holds its lock: the status tells why."""
    dexter = await start_dexter(dexter_store_url=redis_url(), dexter_redis_prefix=redis_prefix)
    question = mention("What was Apple's revenue in 2023?")
    session = f"slack:{TEAM_ID}:{CHANNEL}:{question['ts']}"

    async with (
        store_beside(redis_url(), redis_prefix=redis_prefix) as other_instance,
        other_instance.lock(session),
    ):
        await dexter.send.event(question)
        await dexter.slack.wait_for(
            "chat.update", lambda c: "Waiting for the earlier answer" in c.params["text"]
        )
        assert not answers(dexter.slack, question["ts"])

    await wait_until(lambda: answers(dexter.slack, question["ts"]))


async def test_with_the_store_down_a_retry_on_another_instance_is_told_too_never_stored_twice(
    start_dexter, model, proxied_redis
) -> None:
    """The rule while the store is down: deduplicate on each instance's own memory, so a
    retry that lands on a second instance hears back too (an apology with Try again)
    rather than nothing; no turn can be stored twice, as nothing is stored until the
    store is back, and the retry then answers once."""
    proxy, store = proxied_redis
    first = await start_dexter(**store)
    second = await start_dexter(**store)
    question = mention("What was Apple's revenue in 2023?")
    first.slack.add_message(CHANNEL, question["text"], ts=question["ts"])

    def apologies() -> list:
        return [c for c in first.slack.calls("chat.update") if is_apology(c)]

    await proxy.cut()
    try:
        await first.send.event(question)
        await second.send.event(question, retry_num=1)  # Slack's retry, on the other instance
        await wait_until(lambda: len(apologies()) == 2, within=30)
    finally:
        await proxy.restore()
    assert {c.params["ts"] for c in apologies()} == {
        c.response["ts"] for c in first.slack.calls("chat.postMessage")
    }  # each instance replaced its own status message

    await first.send.click(ACTION_RETRY, question["ts"], thread_ts=question["ts"])

    await wait_until(lambda: answers(first.slack, question["ts"]))
    history = await first.remembered.load(f"slack:{TEAM_ID}:{CHANNEL}:{question['ts']}")
    assert len(history) == 1
