"""Block Kit payloads: what each surface shows, and that Slack's limits always hold."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import (
    ACTION_CLEAR_CANCEL,
    ACTION_CLEAR_CONFIRM,
    ACTION_CLEAR_REQUEST,
    ACTION_HISTORY_PAGE,
    ACTION_HISTORY_SHOW,
    MAX_SESSIONS_LISTED,
    MAX_TURNS_PER_PAGE,
    MESSAGE_BLOCK_TEXT_BUDGET,
    answer_messages,
    block_text_length,
    clear_confirm_blocks,
    cleared_blocks,
    error_blocks,
    history_list_blocks,
    history_page_value,
    message_payload,
    parse_history_page_value,
    slack_date,
    sources_block,
    thread_turns_blocks,
    usage_blocks,
)
from standins.slack_api import (
    BOT_TOKEN,
    SlackAPIServer,
)
from stores.models import SessionInfo, Source, Turn

SESSION = "slack:T0001:C0001:1700000000.000100"
WHEN = datetime(2024, 5, 1, 14, 3, tzinfo=UTC)


def _texts(blocks: list[dict[str, Any]]) -> str:
    """Every mrkdwn/plain text in some blocks, for reading what a person would see."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(blocks)
    return "\n".join(found)


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    ]


def _turn(seq: int, **fields: Any) -> Turn:
    values: dict[str, Any] = {
        "question": f"Question {seq}?",
        "answer": f"Answer {seq}.",
        "summary": f"Summary {seq}.",
        "user": "U0ASKER",
        "created_at": WHEN + timedelta(minutes=seq),
    }
    values.update(fields)
    return Turn(**values).with_seq(seq)


def _session(n: int, question: str | None = None) -> SessionInfo:
    return SessionInfo(
        session_id=f"slack:T0001:C0001:17000000{n:02d}.000100",
        first_question=question or f"How did company {n} do?",
        turns=n + 1,
        created_at=WHEN,
        updated_at=WHEN + timedelta(hours=n),
    )


# --- answers -----------------------------------------------------------------------------


def test_a_short_answer_is_one_message_with_sections_and_sources_last() -> None:
    sources = [Source("Apple 10-K", "https://sec.gov/aapl")]
    [message] = answer_messages("**Revenue** was up [5%](https://x.io).", sources)
    assert message["blocks"][0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Revenue* was up <https://x.io|5%>."},
    }
    assert message["blocks"][-1]["type"] == "context"
    assert message["text"] == "Revenue was up 5%."


def test_an_answer_without_sources_has_no_context_block() -> None:
    [message] = answer_messages("Plain answer.", [])
    assert [block["type"] for block in message["blocks"]] == ["section"]
    assert message["text"] == "Plain answer."


def test_an_empty_answer_still_says_something() -> None:
    [message] = answer_messages("   ", [])
    assert "without an answer" in message["text"]


def test_a_long_answer_is_spread_over_messages_within_every_limit() -> None:
    paragraph = "**Apple** grew revenue 2% on services; see [10-K](https://sec.gov/aapl). " * 8
    markdown = "\n\n".join(f"## Part {i}\n\n{paragraph}" for i in range(60))
    sources = [Source(f"Filing {i}", f"https://sec.gov/{i}") for i in range(14)]
    messages = answer_messages(markdown, sources)
    assert len(messages) > 3
    for message in messages:
        assert len(message["blocks"]) <= 50
        assert block_text_length(message["blocks"]) <= MESSAGE_BLOCK_TEXT_BUDGET
        assert all(len(block["text"]["text"]) <= 3000 for block in message["blocks"][:-1])
        assert 0 < len(message["text"]) <= 3000
    contexts = [b for m in messages for b in m["blocks"] if b["type"] == "context"]
    assert contexts == [messages[-1]["blocks"][-1]]
    shown = "".join(
        block["text"]["text"]
        for message in messages
        for block in message["blocks"]
        if block["type"] == "section"
    )
    assert [int(n) for n in re.findall(r"\*Part (\d+)\*", shown)] == list(range(60))


def test_sources_are_deduplicated_escaped_and_capped_at_ten_elements() -> None:
    sources = [
        Source("Q3 <draft> & notes", "https://x.io/a?b=1&c=2"),
        Source("Same page again", "https://x.io/a?b=1&c=2/"),
        Source("", ""),
        Source("Internal memo", "file:///tmp/memo"),
        *(Source(f"Filing {i}", f"https://sec.gov/{i}") for i in range(12)),
    ]
    block = sources_block(sources)
    assert block is not None
    elements = [element["text"] for element in block["elements"]]
    assert len(elements) == 10
    assert elements[0] == "*Sources:* <https://x.io/a?b=1&amp;c=2|Q3 &lt;draft&gt; &amp; notes>"
    assert elements[1] == "Internal memo"
    assert elements[-1] == "+5 more"


def test_exactly_ten_sources_need_no_more_element() -> None:
    block = sources_block([Source(f"S{i}", f"https://x.io/{i}") for i in range(10)])
    assert block is not None
    assert len(block["elements"]) == 10
    assert "more" not in block["elements"][-1]["text"]


def test_long_source_titles_are_shortened() -> None:
    block = sources_block([Source("word " * 40, "https://x.io")])
    assert block is not None
    label = block["elements"][0]["text"].split("|", 1)[1]
    assert len(label) <= 81
    assert label.endswith("…>")


def test_a_source_with_an_enormous_url_is_shown_by_title_only() -> None:
    block = sources_block([Source("Big query", "https://x.io/?q=" + "a" * 5000)])
    assert block is not None
    assert block["elements"][0]["text"] == "*Sources:* Big query"


def test_no_sources_no_block() -> None:
    assert sources_block([]) is None
    assert sources_block([Source("", "")]) is None


# --- errors and usage --------------------------------------------------------------------


def test_error_blocks_show_the_message_and_the_reference_in_small_print() -> None:
    blocks = error_blocks("The market data service <timed out> & gave up.", "req-42")
    assert blocks[0]["text"]["text"] == (
        ":warning: The market data service &lt;timed out&gt; &amp; gave up."
    )
    assert blocks[1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Reference: `req-42`"}],
    }


def test_usage_explains_every_memory_command_after_the_problem() -> None:
    blocks = usage_blocks("/dexter-clear", "That is not a <thread> link.")
    assert blocks[0]["text"]["text"] == (
        ":warning: `/dexter-clear`: That is not a &lt;thread&gt; link."
    )
    text = _texts(blocks)
    for usage in ("/dexter-history`", "/dexter-history &lt;thread link&gt;", "/dexter-clear"):
        assert usage in text
    assert "@Dexter history" in text
    assert "@Dexter clear" in text


def test_usage_without_a_problem_is_just_the_help() -> None:
    assert "warning" not in _texts(usage_blocks("/dexter-history", None))


# --- history list ------------------------------------------------------------------------


def test_history_list_has_an_empty_state() -> None:
    [block] = history_list_blocks([], {})
    assert "no threads in this channel yet" in block["text"]["text"]


def test_history_list_shows_each_thread_with_show_and_clear_buttons() -> None:
    sessions = [_session(1, "What is **AAPL**'s P/E & <margin>?"), _session(2)]
    permalinks = {sessions[0].session_id: "https://example.slack.com/archives/C0001/p1"}
    blocks = history_list_blocks(sessions, permalinks)
    first = blocks[1]["text"]["text"]
    assert first.startswith("*What is **AAPL**'s P/E &amp; &lt;margin&gt;?*\n2 turns · ")
    assert "<!date^1714575780^{date_short_pretty} {time}|2024-05-01 15:03 UTC>" in first
    assert "<https://example.slack.com/archives/C0001/p1|Open thread>" in first
    assert "Open thread" not in blocks[3]["text"]["text"]
    buttons = _buttons(blocks)
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons[:2]] == [
        ("Show", ACTION_HISTORY_SHOW, sessions[0].session_id),
        ("Clear", ACTION_CLEAR_REQUEST, sessions[0].session_id),
    ]


def test_history_list_shortens_long_questions_to_one_line() -> None:
    blocks = history_list_blocks([_session(1, "why\n" + "margins " * 60)], {})
    title = blocks[1]["text"]["text"].split("\n")[0]
    assert len(title) <= 152
    assert title.endswith("…*")


def test_a_busy_channel_lists_the_most_recent_threads_within_fifty_blocks() -> None:
    sessions = [_session(n) for n in range(35)]
    blocks = history_list_blocks(sessions, {})
    assert len(blocks) <= 50
    assert len(_buttons(blocks)) == 2 * MAX_SESSIONS_LISTED
    assert blocks[-1]["elements"][0]["text"] == "Showing the 20 most recent of 35."


# --- thread turns ------------------------------------------------------------------------


def test_thread_turns_show_question_summary_user_and_time() -> None:
    turns = [_turn(3, question="What about <NVDA> & AMD?", summary="**NVDA** leads.")]
    blocks = thread_turns_blocks(SESSION, turns, 1, 5, 1, "https://example.slack.com/p1")
    assert blocks[0]["text"]["text"] == (
        "*What Dexter remembers of this thread* · <https://example.slack.com/p1|Open thread>\n"
        "1 turn · page 1 of 1"
    )
    assert blocks[1]["text"]["text"] == "*3. What about &lt;NVDA&gt; &amp; AMD?*\n*NVDA* leads."
    byline = [element["text"] for element in blocks[2]["elements"]]
    assert byline == ["<@U0ASKER>", slack_date(WHEN + timedelta(minutes=3))]


def test_a_turn_without_a_summary_shows_the_start_of_its_answer_safely() -> None:
    answer = "Intro.\n\n```\n" + "row = 1\n" * 200 + "```"
    [_, turn_block, *_] = thread_turns_blocks(
        SESSION, [_turn(1, summary="", answer=answer)], 1, 5, 1, None
    )
    text = turn_block["text"]["text"]
    assert len(text) <= 3000
    assert text.count("```") % 2 == 0
    assert text.endswith("…")


def test_turn_users_that_are_not_slack_ids_are_escaped() -> None:
    blocks = thread_turns_blocks(SESSION, [_turn(1, user="<!channel>")], 1, 5, 1, None)
    assert blocks[2]["elements"][0]["text"] == "&lt;!channel&gt;"


def test_thread_turns_paginate_with_newer_and_older_in_rows_of_their_own() -> None:
    turns = [_turn(n) for n in range(5)]
    first = _buttons(thread_turns_blocks(SESSION, turns, 1, 5, 12, None))
    middle = _buttons(thread_turns_blocks(SESSION, turns, 2, 5, 12, None))
    last = _buttons(thread_turns_blocks(SESSION, turns[:2], 3, 5, 12, None))
    assert [b["text"]["text"] for b in first] == ["Older", "Clear memory"]
    assert [b["text"]["text"] for b in middle] == ["Newer", "Older", "Clear memory"]
    assert [b["text"]["text"] for b in last] == ["Newer", "Clear memory"]
    assert {b["action_id"] for b in middle[:2]} == {ACTION_HISTORY_PAGE}
    assert [parse_history_page_value(b["value"]) for b in middle[:2]] == [
        (SESSION, 1),
        (SESSION, 3),
    ]
    assert middle[2]["action_id"] == ACTION_CLEAR_REQUEST
    assert middle[2]["value"] == SESSION
    rows = [
        b for b in thread_turns_blocks(SESSION, turns, 2, 5, 12, None) if b["type"] == "actions"
    ]
    assert [[e["text"]["text"] for e in row["elements"]] for row in rows] == [
        ["Newer"],
        ["Older", "Clear memory"],
    ]


def test_a_thread_with_no_turns_says_so() -> None:
    blocks = thread_turns_blocks(SESSION, [], 1, 5, 0, None)
    assert "no memory" in blocks[1]["text"]["text"]
    assert "0 turns · page 1 of 1" in blocks[0]["text"]["text"]


def test_the_fullest_page_fits_slack() -> None:
    huge = "x " * 5000
    turns = [_turn(n, question=huge, summary=huge) for n in range(MAX_TURNS_PER_PAGE)]
    blocks = thread_turns_blocks(SESSION, turns, 2, MAX_TURNS_PER_PAGE, 100, "https://x.io")
    assert len(blocks) <= 50
    assert block_text_length(blocks) <= MESSAGE_BLOCK_TEXT_BUDGET


@pytest.mark.parametrize(
    ("page", "page_size", "count"),
    [(0, 5, 1), (1, 0, 0), (1, MAX_TURNS_PER_PAGE + 1, 1), (1, 2, 3)],
)
def test_thread_turns_refuse_impossible_pages(page: int, page_size: int, count: int) -> None:
    with pytest.raises(ValueError):
        thread_turns_blocks(SESSION, [_turn(n) for n in range(count)], page, page_size, 9, None)


@pytest.mark.parametrize("value", ["", "{}", "[1]", '{"session_id": 1, "page": 1}', "s|2"])
def test_page_values_that_we_did_not_write_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_history_page_value(value)


def test_page_values_round_trip() -> None:
    assert parse_history_page_value(history_page_value(SESSION, 4)) == (SESSION, 4)


def test_an_oversized_identifier_is_refused_rather_than_cut() -> None:
    session = SessionInfo("s" * 2001, "q", 1, WHEN, WHEN)
    with pytest.raises(ValueError, match="button value"):
        history_list_blocks([session], {})


# --- clearing ----------------------------------------------------------------------------


def test_clear_confirmation_has_a_guarded_danger_button_and_cancel() -> None:
    blocks = clear_confirm_blocks(SESSION, "What is <AAPL>'s margin?", 3)
    text = blocks[0]["text"]["text"]
    assert text.startswith("*Erase Dexter's memory of this thread?*\n")
    assert "3 turns, starting with “What is &lt;AAPL&gt;'s margin?”" in text
    erase, cancel = _buttons(blocks)
    assert (erase["action_id"], erase["value"], erase["style"]) == (
        ACTION_CLEAR_CONFIRM,
        SESSION,
        "danger",
    )
    assert erase["confirm"]["style"] == "danger"
    assert erase["confirm"]["confirm"]["text"] == "Erase"
    assert "3 turns" in erase["confirm"]["text"]["text"]
    assert (cancel["action_id"], cancel["value"]) == (ACTION_CLEAR_CANCEL, SESSION)
    assert "style" not in cancel


def test_clear_confirmation_for_an_empty_memory() -> None:
    text = clear_confirm_blocks(SESSION, None, 0)[0]["text"]["text"]
    assert "remembers nothing" in text


def test_cleared_blocks_count_what_was_forgotten() -> None:
    assert "forgot 1 turn of" in cleared_blocks(1)[0]["text"]["text"]
    assert "forgot 7 turns" in cleared_blocks(7)[0]["text"]["text"]
    assert "Nothing to erase" in cleared_blocks(0)[0]["text"]["text"]


# --- dates -------------------------------------------------------------------------------


def test_slack_dates_use_reader_time_with_a_utc_fallback() -> None:
    assert slack_date(WHEN) == "<!date^1714572180^{date_short_pretty} {time}|2024-05-01 14:03 UTC>"
    assert slack_date(WHEN.replace(tzinfo=None)) == slack_date(WHEN)


# --- Slack accepts all of it -------------------------------------------------------------


async def test_every_payload_is_accepted_by_the_slack_stand_in(
    clean_slack_api: SlackAPIServer,
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=clean_slack_api.url)
    long_answer = ("## Section\n\n" + "Revenue grew. " * 300 + "\n\n") * 12
    sources = [Source(f"Source {i}", f"https://x.io/{i}") for i in range(15)]
    huge = "<x> & " * 2000
    payloads = [
        *answer_messages(long_answer, sources),
        message_payload(error_blocks(huge, "ref")),
        message_payload(usage_blocks("/dexter-clear", huge)),
        message_payload(history_list_blocks([_session(n, huge) for n in range(30)], {})),
        message_payload(history_list_blocks([], {})),
        message_payload(
            thread_turns_blocks(
                SESSION,
                [_turn(n, question=huge, summary=huge) for n in range(MAX_TURNS_PER_PAGE)],
                2,
                MAX_TURNS_PER_PAGE,
                50,
                "https://example.slack.com/p1",
            )
        ),
        message_payload(clear_confirm_blocks(SESSION, huge, 10**6)),
        message_payload(cleared_blocks(3)),
    ]
    for payload in payloads:
        response = await client.chat_postMessage(channel="C0001", **payload)
        assert response["ok"]
