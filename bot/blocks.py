"""Block Kit payloads for everything Dexter shows in Slack, one small function each.

Handlers call these and send the result; none of them builds JSON inline. Every field is
kept inside Slack's documented limits here (section text 3,000 characters, 50 blocks a
message, 10 context elements, button text 75, button value 2,000, confirm dialog 100/300/30),
so a long answer or a strange question can never earn an `invalid_blocks` error. Text that
came from people or the model is escaped; identifiers are never truncated (a cut session
id would point at the wrong thread), so an oversized one is refused instead.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.rendering import (
    SECTION_TEXT_LIMIT,
    clip_mrkdwn,
    escape_mrkdwn,
    slack_link,
    split_message,
    to_mrkdwn,
    to_plain_text,
)
from stores.models import RATINGS, Rating, SessionInfo, Source, Turn

Block = dict[str, Any]
Blocks = list[Block]
Message = dict[str, Any]

ACTION_HISTORY_SHOW = "dexter_history_show"
ACTION_HISTORY_PAGE = "dexter_history_page"
ACTION_CLEAR_REQUEST = "dexter_clear_request"
ACTION_CLEAR_CONFIRM = "dexter_clear_confirm"
ACTION_CLEAR_CANCEL = "dexter_clear_cancel"
ACTION_RETRY = "dexter_retry"
ACTION_HOME_ERASE_ALL = "dexter_home_erase_all"
ACTION_FEEDBACK = "dexter_feedback"
ACTION_STOP = "dexter_stop"

MAX_BLOCKS_PER_MESSAGE = 50
MAX_CONTEXT_ELEMENTS = 10
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
CONFIRM_TITLE_LIMIT = 100
CONFIRM_TEXT_LIMIT = 300
CONFIRM_BUTTON_LIMIT = 30
MESSAGE_BLOCK_TEXT_BUDGET = 10_000
"""Characters of block text we put in one message. Slack rejects messages whose blocks
hold roughly 12,000+ characters in total with `msg_blocks_too_long`, a limit it does not
document (slackapi/bolt-js#2509, #2867), so answers are spread over messages below it."""
FALLBACK_TEXT_LIMIT = 3000
"""Length of a message's `text`, which Slack only shows in notifications once blocks exist."""

MAX_SESSIONS_LISTED = 20
MAX_TURNS_PER_PAGE = 10
MAX_HOME_THREADS = 15
SOURCE_TITLE_LIMIT = 80
SOURCE_LINK_LIMIT = 1000
LISTED_QUESTION_LIMIT = 150
PAGE_QUESTION_LIMIT = 300
PAGE_SUMMARY_LIMIT = 600
ERROR_MESSAGE_LIMIT = 1000
REFERENCE_LIMIT = 100

_ELLIPSIS = "…"
_EMPTY_ANSWER = "_Dexter came back without an answer this time. Try asking again._"
_SLACK_USER_ID = re.compile(r"[UWB][A-Z0-9]{2,}")
_USAGE_LINES = (
    "• `/dexter-history` lists Dexter's recent threads in this channel",
    "• `/dexter-history &lt;thread link&gt;` shows what Dexter remembers of one thread",
    "• `/dexter-clear &lt;thread link&gt;` erases Dexter's memory of one thread",
    "• `@Dexter history` or `@Dexter clear` inside a thread does the same for that thread",
)
_THREAD_LINK_TIP = (
    "Get a thread link with *More actions (⋯) → Copy link* on any message in the thread."
)


# --- answers -----------------------------------------------------------------------------


def answer_messages(
    markdown_answer: str, sources: Sequence[Source], after: Sequence[Block] = ()
) -> list[Message]:
    """The message payload(s) that carry one answer into a thread.

    The answer becomes mrkdwn sections of at most 3,000 characters; they are spread over as
    many messages as Slack's block count and block text budget need, and the sources go
    last. Each payload has a plain `text` fallback for notifications.
    """
    chunks = split_message(to_mrkdwn(markdown_answer), SECTION_TEXT_LIMIT)
    blocks = [_section(chunk) for chunk in chunks or [_EMPTY_ANSWER]]
    sources_context = sources_block(sources)
    if sources_context is not None:
        blocks.append(sources_context)
    blocks += after
    return [message_payload(group) for group in _group_blocks(blocks)]


def feedback_block(session_id: str, seq: int, *, native: bool) -> Block:
    """👍 / 👎 under an answer: Slack's `feedback_buttons` (in a `context_actions` block)
    where the message is Dexter's streamed reply, plain buttons otherwise. Each button's
    value names the rating, the turn and its thread (`parse_feedback_value`)."""
    good, bad = (f"{rating}|{seq}|{session_id}" for rating in RATINGS)
    if not native:
        return _actions(  # action ids are unique within a block
            _button("👍 Helpful", f"{ACTION_FEEDBACK}_good", good),
            _button("👎 Not helpful", f"{ACTION_FEEDBACK}_bad", bad),
        )
    return {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": ACTION_FEEDBACK,
                "positive_button": {
                    "text": _plain("👍"),
                    "value": good,
                    "accessibility_label": "This answer was helpful",
                },
                "negative_button": {
                    "text": _plain("👎"),
                    "value": bad,
                    "accessibility_label": "This answer was not helpful",
                },
            }
        ],
    }


def stop_actions(question_key: str) -> Block:
    """The Stop button shown while an answer is researched; its value names the question."""
    return _actions(_button("Stop", ACTION_STOP, question_key, style="danger"))


def status_blocks(mrkdwn: str, question_key: str | None) -> list[Block]:
    """A status message: the progress text, and a Stop button while it can be pressed."""
    blocks = [_section(mrkdwn)]
    return blocks if question_key is None else [*blocks, stop_actions(question_key)]


def parse_feedback_value(value: str) -> tuple[Rating, int, str]:
    """The rating, seq and session id a feedback button carries; ValueError if it is not one."""
    rating, seq, session_id = value.split("|", 2)
    for known in RATINGS:
        if rating == known and seq.isdigit():
            return known, int(seq), session_id
    raise ValueError(f"not a feedback value: {value[:80]!r}")


def sources_block(sources: Sequence[Source]) -> Block | None:
    """A context block of compact source links, deduplicated, with "+N more" past ten."""
    unique = _unique_sources(sources)
    if not unique:
        return None
    shown = unique
    if len(unique) > MAX_CONTEXT_ELEMENTS:
        shown = unique[: MAX_CONTEXT_ELEMENTS - 1]
    links = [_source_link(source) for source in shown]
    links[0] = f"*Sources:* {links[0]}"
    if len(shown) < len(unique):
        links.append(f"+{len(unique) - len(shown)} more")
    return _context(*links)


def _unique_sources(sources: Iterable[Source]) -> list[Source]:
    seen: set[str] = set()
    unique: list[Source] = []
    for source in sources:
        url, title = source.url.strip(), source.title.strip()
        key = url.rstrip("/") if url else f"title:{title.casefold()}"
        if (url or title) and key not in seen:
            seen.add(key)
            unique.append(source)
    return unique


def _source_link(source: Source) -> str:
    """`<url|title>`, or just the title when the URL is too long to be worth a link."""
    title = _clip_plain(_one_line(source.title), SOURCE_TITLE_LIMIT)
    link = slack_link(source.url, title or None)
    if len(link) > SOURCE_LINK_LIMIT:
        return escape_mrkdwn(title) or "(untitled source)"
    return link


# --- errors and usage --------------------------------------------------------------------


def error_blocks(message: str, reference: str) -> list[Block]:
    """A short apology people can act on, with the reference id support needs in small print."""
    text = _escaped(message, ERROR_MESSAGE_LIMIT)
    reference_text = _escaped(reference, REFERENCE_LIMIT)
    return [_section(f":warning: {text}"), _context(f"Reference: `{reference_text}`")]


def stopped_blocks(question_ts: str) -> list[Block]:
    """What an answer stopped by its Stop button leaves behind, with Try again."""
    return [
        _section(":octagonal_sign: Stopped. Nothing of this answer was kept."),
        retry_actions(question_ts),
    ]


def retry_actions(question_ts: str) -> Block:
    """A "Try again" button under an apology: the question stays one click away."""
    return _actions(_button("Try again", ACTION_RETRY, question_ts, style="primary"))


def usage_blocks(command: str, problem: str | None) -> list[Block]:
    """How the memory commands are used, after what was wrong with the last try, if anything."""
    blocks: list[Block] = []
    if problem:
        shown_command = _escaped(command, 100)
        reason = _escaped(problem, ERROR_MESSAGE_LIMIT)
        blocks.append(_section(f":warning: `{shown_command}`: {reason}"))
    blocks.append(_section("*Dexter's memory commands*\n" + "\n".join(_USAGE_LINES)))
    blocks.append(_context(_THREAD_LINK_TIP))
    return blocks


# --- history -----------------------------------------------------------------------------


def history_list_blocks(
    sessions: Sequence[SessionInfo], permalinks: Mapping[str, str | None]
) -> list[Block]:
    """The ephemeral list of a channel's recent Dexter threads, each with Show and Clear.

    At most `MAX_SESSIONS_LISTED` threads are listed (two blocks each keeps the message
    under 50 blocks); a note says how many more there are.
    """
    if not sessions:
        return [
            _section(
                "*Dexter has no threads in this channel yet.*\n"
                "Mention @Dexter with a question to start one; each thread keeps its own memory."
            )
        ]
    shown = sessions[:MAX_SESSIONS_LISTED]
    blocks: list[Block] = [_section("*Dexter's recent threads in this channel*")]
    for session in shown:
        blocks.append(_section(_session_line(session, permalinks.get(session.session_id))))
        blocks.append(
            _actions(
                _button("Show", ACTION_HISTORY_SHOW, session.session_id),
                _button("Clear", ACTION_CLEAR_REQUEST, session.session_id),
            )
        )
    if len(sessions) > len(shown):
        blocks.append(_context(f"Showing the {len(shown)} most recent of {len(sessions)}."))
    return blocks


def home_blocks(
    sessions: Sequence[SessionInfo],
    permalinks: Mapping[str, str | None],
    *,
    retention_days: float,
    note: str | None = None,
) -> list[Block]:
    """The App Home tab: the person's recent threads, what Dexter keeps, erase-all."""
    blocks: list[Block] = [{"type": "header", "text": _plain("Dexter")}]
    if note:
        blocks.append(_context(_escaped(note, ERROR_MESSAGE_LIMIT)))
    if sessions:
        blocks.append(_section("*Your recent threads*"))
        blocks += [
            _section(_session_line(s, permalinks.get(s.session_id)))
            for s in sessions[:MAX_HOME_THREADS]
        ]
    else:
        blocks.append(
            _section(
                "*You have no Dexter threads yet.*\nMention @Dexter with a question in a "
                "channel, or message Dexter here; each thread keeps its own memory."
            )
        )
    days = f"{retention_days:g} day" + ("" if retention_days == 1 else "s")
    blocks += [
        {"type": "divider"},
        _section(
            "*What Dexter keeps*\nFor each thread: the questions, the answers, a short "
            "summary of each answer and its data sources, so that follow-ups make sense. "
            f"A thread nobody uses for {days} is erased. Only threads you can still see "
            "are listed here; `/dexter-clear` erases one thread."
        ),
    ]
    if sessions:
        count = _count(len(sessions), "thread")
        confirm = _confirm_dialog(
            title=f"Erase {count}?",
            text=(
                "Dexter forgets every thread listed here, other people's questions in them "
                "included. This cannot be undone."
            ),
            confirm="Erase",
            deny="Keep them",
        )
        blocks.append(
            _actions(
                _button(
                    "Erase all my threads",
                    ACTION_HOME_ERASE_ALL,
                    "all",
                    style="danger",
                    confirm=confirm,
                )
            )
        )
    return blocks


def _session_line(session: SessionInfo, permalink: str | None) -> str:
    question = _escaped(session.first_question, LISTED_QUESTION_LIMIT)
    parts = [_count(session.turns, "turn"), f"last active {slack_date(session.updated_at)}"]
    if permalink:
        parts.append(slack_link(permalink, "Open thread"))
    return f"*{question or 'Untitled thread'}*\n" + " · ".join(parts)


def thread_turns_blocks(
    session_id: str,
    turns: Sequence[Turn],
    page: int,
    page_size: int,
    total: int,
    permalink: str | None,
) -> list[Block]:
    """One page of what Dexter remembers of a thread, with Newer/Older and Clear buttons.

    `page` counts from 1, page 1 holding the newest turns; `turns` are shown in the order
    given. Each turn shows its question, its summary (or the start of its answer), who
    asked and when. `page_size` is capped at `MAX_TURNS_PER_PAGE` so a page stays well
    inside Slack's block and text limits.
    """
    if not 1 <= page_size <= MAX_TURNS_PER_PAGE:
        raise ValueError(f"page_size must be between 1 and {MAX_TURNS_PER_PAGE}, not {page_size}")
    if page < 1:
        raise ValueError(f"page counts from 1, not {page}")
    if len(turns) > page_size:
        raise ValueError(f"{len(turns)} turns do not fit a page of {page_size}")
    pages = max(1, math.ceil(total / page_size))
    title = "*What Dexter remembers of this thread*"
    if permalink:
        title += f" · {slack_link(permalink, 'Open thread')}"
    blocks: list[Block] = [_section(f"{title}\n{_count(total, 'turn')} · page {page} of {pages}")]
    if not turns:
        blocks.append(_section("_Nothing on this page: Dexter has no memory of these turns._"))
    for turn in turns:
        blocks.append(_section(_turn_text(turn)))
        blocks.append(_context(*_turn_byline(turn)))
    # Slack refuses two equal action_ids in one block, so Newer and Older get a row each.
    rows: list[list[Block]] = []
    if page > 1:
        rows.append(
            [_button("Newer", ACTION_HISTORY_PAGE, history_page_value(session_id, page - 1))]
        )
    if page < pages:
        rows.append(
            [_button("Older", ACTION_HISTORY_PAGE, history_page_value(session_id, page + 1))]
        )
    clear = _button("Clear memory", ACTION_CLEAR_REQUEST, session_id)
    if rows:
        rows[-1].append(clear)
    else:
        rows.append([clear])
    blocks.extend(_actions(*row) for row in rows)
    return blocks


def history_page_value(session_id: str, page: int) -> str:
    """The value of a Newer/Older button: which thread, which page."""
    return json.dumps({"session_id": session_id, "page": page}, separators=(",", ":"))


def parse_history_page_value(value: str) -> tuple[str, int]:
    """Read back `history_page_value`; raises ValueError for anything else."""
    try:
        data = json.loads(value)
        session_id, page = data["session_id"], data["page"]
    except (json.JSONDecodeError, TypeError, KeyError) as error:
        raise ValueError(f"not a history page value: {value!r}") from error
    if not isinstance(session_id, str) or not isinstance(page, int) or page < 1:
        raise ValueError(f"not a history page value: {value!r}")
    return session_id, page


def _turn_text(turn: Turn) -> str:
    question = _escaped(turn.question, PAGE_QUESTION_LIMIT)
    gist = turn.summary.strip() or turn.answer.strip()
    gist_mrkdwn = clip_mrkdwn(to_mrkdwn(gist), PAGE_SUMMARY_LIMIT) if gist else "_No answer._"
    return f"*{turn.seq}. {question}*\n{gist_mrkdwn}"


def _turn_byline(turn: Turn) -> list[str]:
    byline = [slack_date(turn.created_at)]
    if turn.feedback is not None:
        byline.append("rated 👍" if turn.feedback == "good" else "rated 👎")
    if turn.user:
        if _SLACK_USER_ID.fullmatch(turn.user):
            byline.insert(0, f"<@{turn.user}>")
        else:
            byline.insert(0, _escaped(turn.user, 80))
    return byline


# --- clearing ----------------------------------------------------------------------------


def clear_confirm_blocks(session_id: str, first_question: str | None, turns: int) -> list[Block]:
    """Ask before erasing a thread's memory: a danger Erase button behind a confirm dialog,
    and Cancel."""
    if turns and first_question:
        question = _escaped(first_question, LISTED_QUESTION_LIMIT)
        remembered = f"Dexter remembers {_count(turns, 'turn')}, starting with “{question}”."
    elif turns:
        remembered = f"Dexter remembers {_count(turns, 'turn')}."
    else:
        remembered = "Dexter remembers nothing of this thread yet."
    text = (
        "*Erase Dexter's memory of this thread?*\n"
        f"{remembered} The Slack messages stay; only Dexter's memory of them goes."
    )
    erase = _button(
        "Erase",
        ACTION_CLEAR_CONFIRM,
        session_id,
        style="danger",
        confirm=_confirm_dialog(
            title="Erase Dexter's memory?",
            text=f"Dexter will forget {_count(turns, 'turn')} of this thread. "
            "This cannot be undone.",
            confirm="Erase",
            deny="Keep",
        ),
    )
    cancel = _button("Cancel", ACTION_CLEAR_CANCEL, session_id)
    return [_section(text), _actions(erase, cancel)]


def cleared_blocks(turns_removed: int) -> list[Block]:
    """What replaces the confirmation once the memory is gone."""
    if turns_removed <= 0:
        return [_section("Nothing to erase: Dexter had no memory of this thread.")]
    return [
        _section(
            f"Done: Dexter forgot {_count(turns_removed, 'turn')} of this thread. "
            "To ask again here, mention @Dexter: it starts afresh."
        )
    ]


# --- dates -------------------------------------------------------------------------------


def slack_date(moment: datetime) -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    epoch = int(moment.timestamp())
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


# --- building blocks ---------------------------------------------------------------------


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": _mrkdwn(clip_mrkdwn(mrkdwn, SECTION_TEXT_LIMIT))}


def _context(*mrkdwn_texts: str) -> Block:
    elements = [_mrkdwn(text) for text in mrkdwn_texts[:MAX_CONTEXT_ELEMENTS]]
    return {"type": "context", "elements": elements}


def _actions(*elements: Block) -> Block:
    return {"type": "actions", "elements": list(elements)}


def _button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: Block | None = None,
) -> Block:
    if len(value) > BUTTON_VALUE_LIMIT:
        raise ValueError(f"a button value holds {BUTTON_VALUE_LIMIT} characters, not {len(value)}")
    button: Block = {
        "type": "button",
        "text": _plain(_clip_plain(text, BUTTON_TEXT_LIMIT)),
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    if confirm is not None:
        button["confirm"] = confirm
    return button


def _confirm_dialog(*, title: str, text: str, confirm: str, deny: str) -> Block:
    return {
        "title": _plain(_clip_plain(title, CONFIRM_TITLE_LIMIT)),
        "text": _plain(_clip_plain(text, CONFIRM_TEXT_LIMIT)),
        "confirm": _plain(_clip_plain(confirm, CONFIRM_BUTTON_LIMIT)),
        "deny": _plain(_clip_plain(deny, CONFIRM_BUTTON_LIMIT)),
        "style": "danger",
    }


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


# --- messages ----------------------------------------------------------------------------


def _group_blocks(blocks: Sequence[Block]) -> list[list[Block]]:
    """Spread blocks over messages: at most 50 each, and within the block text budget."""
    groups: list[list[Block]] = [[]]
    used = 0
    for block in blocks:
        size = block_text_length(block)
        group = groups[-1]
        if group and (
            len(group) >= MAX_BLOCKS_PER_MESSAGE or used + size > MESSAGE_BLOCK_TEXT_BUDGET
        ):
            groups.append([])
            used = 0
        groups[-1].append(block)
        used += size
    return groups


def message_payload(blocks: list[Block]) -> Message:
    """`{"text", "blocks"}` for a list of blocks, the `text` a plain notification fallback."""
    texts = [
        block["text"]["text"]
        for block in blocks
        if block["type"] == "section" and isinstance(block.get("text"), dict)
    ]
    if not texts:
        texts = [
            element["text"]
            for block in blocks
            for element in block.get("elements", [])
            if isinstance(element.get("text"), str)
        ]
    fallback = clip_mrkdwn(to_plain_text("\n".join(texts)), FALLBACK_TEXT_LIMIT)
    return {"text": fallback, "blocks": blocks}


def block_text_length(value: Any) -> int:
    """Characters of text in a block (or message), as Slack counts toward its budget."""
    if isinstance(value, dict):
        return sum(
            len(item) if key == "text" and isinstance(item, str) else block_text_length(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(block_text_length(item) for item in value)
    return 0


# --- text --------------------------------------------------------------------------------


def _clip_plain(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word when one is near, ending in an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - len(_ELLIPSIS)]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + _ELLIPSIS


def _escaped(text: str, limit: int) -> str:
    """People's or the model's text on one line, escaped, then cut to `limit` characters.

    Cutting after escaping keeps the limit true (`&` grows to five characters) and lets
    the cut avoid splitting an entity.
    """
    return clip_mrkdwn(escape_mrkdwn(_one_line(text)), limit)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
