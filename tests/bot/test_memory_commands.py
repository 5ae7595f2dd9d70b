"""/dexter-history, /dexter-clear, their buttons, thread commands and the message shortcut."""

from __future__ import annotations

import json

import pytest

from bot.blocks import (
    ACTION_CLEAR_CANCEL,
    ACTION_CLEAR_CONFIRM,
    ACTION_CLEAR_REQUEST,
    ACTION_HISTORY_PAGE,
    ACTION_HISTORY_SHOW,
    history_page_value,
)
from bot.shortcuts import CLEAR_THREAD_CALLBACK
from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, USER, mention, message, next_ts
from stores import Turn
from tests.bot.observe import answers, wait_until
from tests.remembered import store_beside

OTHER_CHANNEL = "C0ELSEWHERE"


def link(channel: str, ts: str, thread_ts: str | None = None) -> str:
    url = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return f"{url}?thread_ts={thread_ts}&cid={channel}" if thread_ts else url


def session(thread_ts: str, channel: str = CHANNEL) -> str:
    return f"slack:{TEAM_ID}:{channel}:{thread_ts}"


async def responses(dexter, count: int = 1) -> list[dict]:
    await wait_until(lambda: len(dexter.slack.calls("response_url")) >= count)
    return [c.params for c in dexter.slack.calls("response_url")]


def shown(payload: dict) -> str:
    return json.dumps(payload.get("blocks") or []) + str(payload.get("text") or "")


@pytest.fixture
async def dexter_with_a_thread(start_dexter, model):
    """A running Dexter that has answered a question and its follow-up in one thread."""
    dexter = await start_dexter()
    root = mention("What was Apple's revenue in 2023?")
    await dexter.send.event(root)
    await wait_until(lambda: answers(dexter.slack, root["ts"]))
    await dexter.send.event(message("And Microsoft's?", thread_ts=root["ts"]))
    await wait_until(lambda: len(answers(dexter.slack, root["ts"])) == 2)
    return dexter, root["ts"]


async def test_history_lists_the_channels_threads_with_links(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    response = await dexter.send.command("/dexter-history")

    assert response.status_code == 200
    (listing,) = await responses(dexter)
    assert listing["response_type"] == "ephemeral"
    text = shown(listing)
    assert "What was Apple's revenue in 2023?" in text and "2 turns" in text
    assert f"archives/{CHANNEL}/p{root.replace('.', '')}" in text  # the permalink
    assert session(root) in text  # the Show/Clear buttons carry the session


async def test_history_with_a_thread_link_shows_both_turns(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.command("/dexter-history", link(CHANNEL, root))

    (page,) = await responses(dexter)
    text = shown(page)
    assert "What was Apple's revenue in 2023?" in text and "And Microsoft's?" in text
    assert text.index("And Microsoft") < text.index("What was Apple")  # newest first


async def test_a_reply_link_names_its_thread(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.command("/dexter-history", f"<{link(CHANNEL, next_ts(), root)}>")

    (page,) = await responses(dexter)
    assert "And Microsoft's?" in shown(page)


async def test_clear_asks_then_erases_the_thread(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.command("/dexter-clear", link(CHANNEL, root))
    (confirmation,) = await responses(dexter)
    assert "Erase Dexter's memory of this thread?" in shown(confirmation)
    assert ACTION_CLEAR_CONFIRM in shown(confirmation)
    assert len(await dexter.remembered.load(session(root))) == 2  # nothing erased yet

    await dexter.send.click(ACTION_CLEAR_CONFIRM, session(root))

    _, done = await responses(dexter, 2)
    assert done["replace_original"] is True and "forgot 2 turns" in shown(done)
    assert len(await dexter.remembered.load(session(root))) == 0
    assert await dexter.remembered.sessions(f"slack:{TEAM_ID}:{CHANNEL}") == []


async def test_after_clear_a_mention_starts_afresh_and_a_plain_reply_is_left_alone(
    dexter_with_a_thread, model
) -> None:
    dexter, root = dexter_with_a_thread
    await dexter.send.command("/dexter-clear", link(CHANNEL, root))
    await dexter.send.click(ACTION_CLEAR_CONFIRM, session(root))
    _, done = await responses(dexter, 2)
    assert "mention @Dexter" in shown(done)

    await dexter.send.event(message("And Amazon's?", thread_ts=root))
    await dexter.send.event(mention("What about Nvidia's revenue?", thread_ts=root))
    await wait_until(lambda: len(answers(dexter.slack, root)) == 3)

    remembered = await dexter.remembered.load(session(root))
    assert [t.question for t in remembered] == ["What about Nvidia's revenue?"]
    assert "Apple" not in model.requests("understand")[-1].text


async def test_clear_without_a_link_offers_the_recent_threads(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.command("/dexter-clear")

    (offer,) = await responses(dexter)
    assert ACTION_CLEAR_REQUEST in shown(offer) and session(root) in shown(offer)

    await dexter.send.click(ACTION_CLEAR_REQUEST, session(root))

    _, confirmation = await responses(dexter, 2)
    assert ACTION_CLEAR_CONFIRM in shown(confirmation)


async def test_cancel_removes_the_confirmation_and_keeps_the_memory(
    dexter_with_a_thread,
) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.click(ACTION_CLEAR_CANCEL, session(root))

    (cancelled,) = await responses(dexter)
    assert cancelled.get("delete_original") is True
    assert len(await dexter.remembered.load(session(root))) == 2


async def test_a_link_to_another_channel_is_refused(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.command("/dexter-clear", link(CHANNEL, root), channel=OTHER_CHANNEL)
    await dexter.send.command("/dexter-history", link(CHANNEL, root), channel=OTHER_CHANNEL)

    refusals = await responses(dexter, 2)
    assert all("another conversation" in shown(r) for r in refusals)
    assert all("Microsoft" not in shown(r) for r in refusals)
    assert len(await dexter.remembered.load(session(root))) == 2


async def test_a_button_for_another_channels_thread_is_refused(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.click(ACTION_CLEAR_CONFIRM, session(root), channel=OTHER_CHANNEL)
    await dexter.send.click(ACTION_HISTORY_SHOW, session(root), channel=OTHER_CHANNEL)
    await dexter.send.click(ACTION_HISTORY_SHOW, "not-a-session", channel=CHANNEL)

    refusals = await responses(dexter, 3)
    assert all("Microsoft" not in shown(r) for r in refusals)
    assert "another conversation" in shown(refusals[0])
    assert "not one of Dexter's threads" in shown(refusals[2])
    assert len(await dexter.remembered.load(session(root))) == 2


@pytest.mark.parametrize(
    "argument",
    ["yesterday's thread", "https://example.com/not/slack", "https://x.slack.com/archives/C1/p12"],
)
async def test_a_bad_argument_gets_the_usage(start_dexter, argument: str) -> None:
    dexter = await start_dexter()

    response = await dexter.send.command("/dexter-history", argument)

    assert response.status_code == 200
    (usage,) = await responses(dexter)
    assert "not a Slack message link" in shown(usage) and "/dexter-clear" in shown(usage)


async def test_history_pages_through_a_long_thread(start_dexter, sqlite_url) -> None:
    dexter = await start_dexter(dexter_store_url=sqlite_url)
    root = next_ts()
    async with store_beside(sqlite_url) as store:
        for n in range(1, 13):
            await store.append(session(root), Turn(f"Question {n:02d}", f"Answer {n}"))

    await dexter.send.command("/dexter-history", link(CHANNEL, root))
    await dexter.send.click(ACTION_HISTORY_PAGE, history_page_value(session(root), 3))

    first, last = await responses(dexter, 2)
    assert "Question 12" in shown(first) and "Question 08" in shown(first)
    assert "Question 07" not in shown(first) and "page 1 of 3" in shown(first)
    assert "Question 02" in shown(last) and "Question 03" not in shown(last)
    assert "page 3 of 3" in shown(last)


async def test_a_stored_session_with_an_odd_id_is_left_out_of_the_list(
    start_dexter, sqlite_url
) -> None:
    dexter = await start_dexter(dexter_store_url=sqlite_url)
    root = next_ts()
    async with store_beside(sqlite_url) as store:
        await store.append(session(root), Turn("Apple revenue?", "AAPL: $383.3B"))
        await store.append(session("not-a-ts"), Turn("Odd", "stored before ids were checked"))

    await dexter.send.command("/dexter-history")
    await dexter.send.command("/dexter-clear")

    listing, offer = await responses(dexter, 2)
    for payload in (listing, offer):
        assert session(root) in shown(payload) and "not-a-ts" not in shown(payload)


async def test_history_and_clear_inside_a_thread(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.event(mention("history", thread_ts=root))
    await dexter.send.event(mention("clear", thread_ts=root))

    await wait_until(lambda: len(dexter.slack.calls("chat.postEphemeral")) == 2)
    replies = [c.params for c in dexter.slack.calls("chat.postEphemeral")]
    (turns,) = [r for r in replies if "What Dexter remembers" in shown(r)]
    (confirm,) = [r for r in replies if ACTION_CLEAR_CONFIRM in shown(r)]
    assert turns["user"] == USER and turns["thread_ts"] == root
    assert "And Microsoft's?" in shown(turns)
    assert confirm["user"] == USER and confirm["thread_ts"] == root
    assert len(await dexter.remembered.load(session(root))) == 2  # only asked


async def test_the_message_shortcut_offers_to_clear_its_thread(dexter_with_a_thread) -> None:
    dexter, root = dexter_with_a_thread

    await dexter.send.message_shortcut(CLEAR_THREAD_CALLBACK, next_ts(), thread_ts=root)

    (confirmation,) = await responses(dexter)
    assert ACTION_CLEAR_CONFIRM in shown(confirmation) and session(root) in shown(confirmation)
