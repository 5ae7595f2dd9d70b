"""A conversation through the real Slack app with `DEXTER_ENCRYPTION_KEY` set: every key and
column of the store afterwards, read behind the store's back, holds none of its words."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from redis.asyncio import Redis

from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, mention, message
from stores.sealing import new_key
from stores.sql_engine import create_store_engine
from tests.bot.observe import answers, wait_until
from tests.external_servers import redis_url
from tests.stores.raw_contents import redis_contents, sql_contents

QUESTIONS = ("What was Apple's revenue in 2023?", "And Microsoft's operating margin?")
LONG_WORD = re.compile(r"[A-Za-z]{5,}")


@pytest.fixture(params=["sqlite", "redis"])
def store_settings(request: pytest.FixtureRequest, tmp_path) -> dict[str, str]:
    if request.param == "sqlite":
        return {"dexter_store_url": f"sqlite+aiosqlite:///{tmp_path / 'dexter.db'}"}
    return {
        "dexter_store_url": redis_url(),
        "dexter_redis_prefix": request.getfixturevalue("redis_prefix"),
    }


async def stored_bytes(settings: dict[str, str]) -> bytes:
    url = settings["dexter_store_url"]
    if url.startswith("redis"):
        raw = Redis.from_url(url)
        try:
            return await redis_contents(raw, settings["dexter_redis_prefix"])
        finally:
            await raw.aclose()
    engine = create_store_engine(url)
    try:
        return await sql_contents(engine)
    finally:
        await engine.dispose()


def words_of(messages: list[dict[str, Any]]) -> set[str]:
    """The longer words of what was asked and answered (ids and JSON keys aside)."""
    text = " ".join(QUESTIONS) + " ".join(
        json.dumps(m.get("blocks"), ensure_ascii=False) for m in messages
    )
    return {w for w in LONG_WORD.findall(text) if not w.startswith(("type", "mrkdwn", "elements"))}


async def test_a_thread_leaves_none_of_its_words_in_the_store(
    start_dexter, model, store_settings
) -> None:
    dexter = await start_dexter(dexter_encryption_key=new_key(), **store_settings)
    root = mention(QUESTIONS[0])
    session = f"slack:{TEAM_ID}:{CHANNEL}:{root['ts']}"

    await dexter.send.event(root)
    await wait_until(lambda: answers(dexter.slack, root["ts"]))
    await dexter.send.event(message(QUESTIONS[1], thread_ts=root["ts"]))
    await wait_until(lambda: len(answers(dexter.slack, root["ts"])) == 2)
    await dexter.runtime.slack.answerer.drain()

    history = await dexter.remembered.load(session)
    assert [t.question for t in history] == list(QUESTIONS)
    stored = await stored_bytes(store_settings)
    said = words_of(answers(dexter.slack, root["ts"]))
    assert {"Apple", "revenue", "Microsoft"} <= said
    words = {w for w in said if w not in session}  # ids stay clear, by design
    assert sorted(w for w in words if w.encode() in stored) == []
