"""A crash loses no question, and a thread's questions are answered in Slack's order
whichever instance received them: two real `app.py` processes on one store, one of them
killed with SIGKILL while it has questions in flight and queued."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, SlackSender, mention, message
from stores import open_store
from tests.bot.observe import answers, replies_begun, wait_until
from tests.external_servers import redis_url
from tests.service.conftest import until_serving
from tests.stores.backends import schema_url

LEASE = 2.0
"""DEXTER_LOCK_TTL of these tests: a killed process's questions are adopted after it."""


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Settings of one store both processes use."""
    if request.param == "sqlite":
        return {"DEXTER_STORE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"}
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        return {"DEXTER_STORE_URL": redis_url(), "DEXTER_REDIS_PREFIX": prefix}
    return {"DEXTER_STORE_URL": schema_url(request.getfixturevalue("postgres_schema"))}


async def two_instances(start_process, store: dict[str, str]):
    instances = [start_process(DEXTER_LOCK_TTL=str(LEASE), **store) for _ in range(2)]
    for process, url in instances:
        await until_serving(process, url)
    return instances


async def stored_questions(store: dict[str, str], thread_ts: str) -> list[str]:
    """The thread's stored questions, once its inbox is empty (settled after the replies)."""
    prefix = store.get("DEXTER_REDIS_PREFIX")
    options = {"redis_prefix": prefix} if prefix else {}
    session_id = f"slack:{TEAM_ID}:{CHANNEL}:{thread_ts}"
    opened = await open_store(store["DEXTER_STORE_URL"], **options)
    try:
        for _ in range(600):
            if not await opened.inbox.waiting(session_id):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"questions of {session_id} were never settled")
        history = await opened.load(session_id)
    finally:
        await opened.close()
    return [turn.question for turn in history.turns]


async def test_questions_of_a_killed_instance_are_answered_once_by_the_survivor(
    start_process, model, clean_slack_api, shared_store
) -> None:
    model.latency = 0.3  # an answer takes a few seconds: some in flight, some queued
    (doomed, doomed_url), (survivor, _) = await two_instances(start_process, shared_store)
    sender = SlackSender(doomed_url, clean_slack_api.response_url())
    companies = ["Apple", "Nvidia", "Microsoft"]
    threads = [mention(f"What was {name}'s revenue in 2023?") for name in companies]
    follow_ups = [
        message(f"And {name}'s net income?", thread_ts=thread["ts"])
        for name, thread in zip(companies, threads, strict=True)
    ]
    try:
        for event in threads + follow_ups:
            assert (await sender.event(event)).status_code == 200
    finally:
        await sender.close()
    await wait_until(lambda: replies_begun(clean_slack_api) >= 3, within=30)

    doomed.kill()  # SIGKILL: no shutdown, no goodbye, locks and questions left behind
    doomed.wait()

    for thread in threads:
        await wait_until(lambda t=thread: len(answers(clean_slack_api, t["ts"])) >= 2, within=90)
    await asyncio.sleep(LEASE)  # time enough for a second answer, if one were coming
    for name, thread in zip(companies, threads, strict=True):
        assert len(answers(clean_slack_api, thread["ts"])) == 2
        assert await stored_questions(shared_store, thread["ts"]) == [
            f"What was {name}'s revenue in 2023?",
            f"And {name}'s net income?",
        ]
    assert survivor.poll() is None


async def test_a_threads_follow_ups_sent_to_alternating_instances_are_answered_in_order(
    start_process, model, clean_slack_api, shared_store
) -> None:
    model.latency = 0.05
    instances = await two_instances(start_process, shared_store)
    senders = [SlackSender(url, clean_slack_api.response_url()) for _, url in instances]
    first = mention("What was Apple's revenue in 2023?")
    asked = [first["text"].split("> ", 1)[1]]
    try:
        assert (await senders[0].event(first)).status_code == 200
        for n in range(1, 9):
            question = f"Follow-up {n}: and Apple's revenue in {2023 - n}?"
            asked.append(question)
            event = message(question, thread_ts=first["ts"])
            assert (await senders[n % 2].event(event)).status_code == 200
            await asyncio.sleep(0.1)
    finally:
        for sender in senders:
            await sender.close()

    await wait_until(lambda: len(answers(clean_slack_api, first["ts"])) >= len(asked), within=120)
    assert await stored_questions(shared_store, first["ts"]) == asked


async def test_a_lone_instance_answers_what_it_held_after_a_restart(
    start_process, model, clean_slack_api, tmp_path: Path
) -> None:
    """The embedded default: one process on a SQLite file, killed, started again."""
    model.latency = 2.0  # the answer cannot finish before the kill
    store = {"DEXTER_STORE_URL": f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}"}
    process, url = start_process(DEXTER_LOCK_TTL=str(LEASE), **store)
    await until_serving(process, url)
    sender = SlackSender(url, clean_slack_api.response_url())
    question = mention("What was Apple's revenue in 2023?")
    try:
        assert (await sender.event(question)).status_code == 200
    finally:
        await sender.close()
    await wait_until(lambda: replies_begun(clean_slack_api), within=30)
    process.kill()
    process.wait()
    model.latency = 0.0

    restarted, url = start_process(DEXTER_LOCK_TTL=str(LEASE), **store)
    await until_serving(restarted, url)

    await wait_until(lambda: answers(clean_slack_api, question["ts"]), within=60)
    assert await stored_questions(store, question["ts"]) == ["What was Apple's revenue in 2023?"]
