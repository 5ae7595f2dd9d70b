"""Markdown as models write it, rendered as Slack mrkdwn and cut to Slack's limits."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.rendering import (
    clip_mrkdwn,
    escape_mrkdwn,
    slack_link,
    split_message,
    to_mrkdwn,
    to_plain_text,
)

FENCE = "```"


# --- to_mrkdwn: inline -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**Revenue** rose", "*Revenue* rose"),
        ("__Revenue__ rose", "*Revenue* rose"),
        ("an *estimate* only", "an _estimate_ only"),
        ("an _estimate_ only", "an _estimate_ only"),
        ("***both*** ways", "*_both_* ways"),
        ("**bold with *italic* inside**", "*bold with _italic_ inside*"),
        ("~~old~~ new", "~old~ new"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("costs \\$5 \\#1", "costs $5 #1"),
    ],
)
def test_emphasis_becomes_slack_emphasis(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


def test_links_become_slack_links_with_escaped_urls() -> None:
    markdown = "See [the 10-K](https://sec.gov/doc?a=1&b=2) and [**Q3** `deck`](https://x.io/q3)."
    assert to_mrkdwn(markdown) == (
        "See <https://sec.gov/doc?a=1&amp;b=2|the 10-K> and <https://x.io/q3|Q3 deck>."
    )


def test_link_urls_with_parentheses_survive() -> None:
    assert to_mrkdwn("[Apple](https://en.wikipedia.org/wiki/Apple_(company))") == (
        "<https://en.wikipedia.org/wiki/Apple_(company)|Apple>"
    )


def test_bare_urls_and_autolinks_stay_links() -> None:
    assert to_mrkdwn("Go to https://example.com/a_b_c now") == "Go to https://example.com/a_b_c now"
    assert to_mrkdwn("Go to <https://example.com>") == "Go to <https://example.com>"


def test_links_to_anything_but_the_web_show_only_their_text() -> None:
    assert to_mrkdwn("[click](javascript:alert(1)) [part](#section)") == "click part"


def test_images_become_links_to_the_image() -> None:
    assert to_mrkdwn("![chart](https://x.io/c.png)") == "<https://x.io/c.png|chart>"


def test_control_characters_are_escaped_so_models_cannot_ping_or_disguise_links() -> None:
    markdown = "AT&T said <!channel> & <@U123> <https://evil.example|bank.com"
    assert to_mrkdwn(markdown) == (
        "AT&amp;T said &lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil.example|bank.com"
    )


def test_inline_code_is_kept_verbatim_but_escaped() -> None:
    assert to_mrkdwn("Use `a < b && **c**` here") == "Use `a &lt; b &amp;&amp; **c**` here"


def test_html_line_breaks_become_newlines() -> None:
    assert to_mrkdwn("one<br>two<br/>three") == "one\ntwo\nthree"


# --- to_mrkdwn: blocks -------------------------------------------------------------------


def test_headings_become_bold_lines() -> None:
    assert to_mrkdwn("# Apple **Q3**\n\n### Margins ###\ntext") == ("*Apple Q3*\n\n*Margins*\ntext")


def test_a_hashtag_is_not_a_heading() -> None:
    assert to_mrkdwn("#earnings season") == "#earnings season"


def test_bullets_become_dots_and_keep_their_nesting() -> None:
    markdown = "- one\n  * two **b**\n    + three\n- [ ] todo\n- [x] done"
    assert to_mrkdwn(markdown) == ("• one\n  • two *b*\n    • three\n• ☐ todo\n• ☑ done")


def test_negative_numbers_and_bold_starts_are_not_bullets() -> None:
    assert to_mrkdwn("-5% this year\n**Net** income") == "-5% this year\n*Net* income"


def test_numbered_lists_are_kept() -> None:
    assert to_mrkdwn("1. first\n2) second\n  3. nested") == "1. first\n2. second\n  3. nested"


def test_blockquotes_are_kept_and_flattened() -> None:
    assert to_mrkdwn("> quoted **text**\n>> nested\n> - item") == (
        "> quoted *text*\n> nested\n> • item"
    )


def test_thematic_breaks_become_a_rule() -> None:
    assert to_mrkdwn("above\n\n---\n\nbelow") == "above\n\n──────────\n\nbelow"


def test_fenced_code_is_kept_verbatim_without_its_language() -> None:
    markdown = "```python\ndef f(x):\n    return x < 2 and '**no**'  # [a](b)\n```"
    assert to_mrkdwn(markdown) == (
        "```\ndef f(x):\n    return x &lt; 2 and '**no**'  # [a](b)\n```"
    )


def test_tilde_fences_and_indented_fences_are_code_too() -> None:
    assert to_mrkdwn("~~~\n# not a heading\n~~~") == "```\n# not a heading\n```"
    assert to_mrkdwn("- item\n    ```\n    - code\n    ```") == "• item\n```\n- code\n```"


def test_an_unclosed_fence_is_closed() -> None:
    assert to_mrkdwn("text\n```\ncode") == "text\n```\ncode\n```"


def test_one_line_triple_backticks_are_inline_code() -> None:
    assert to_mrkdwn("run ```ls -l``` now") == "run `ls -l` now"


def test_tables_become_aligned_code_blocks() -> None:
    markdown = (
        "| Metric | FY2023 | FY2024 |\n"
        "|:-------|-------:|:------:|\n"
        "| **Revenue** | 383.3 | 391.0 |\n"
        "| EPS [diluted](https://x.io) | 6.13 | 6.08 |\n"
        "| R&D \\| SG&A | 29.9 | 31.4 |\n"
        "\nAfter the table."
    )
    assert to_mrkdwn(markdown) == (
        "```\n"
        "Metric      | FY2023 | FY2024\n"
        "------------+--------+-------\n"
        "Revenue     |  383.3 | 391.0\n"
        "EPS diluted |   6.13 |  6.08\n"
        "R&amp;D | SG&amp;A  |   29.9 |  31.4\n"
        "```\n"
        "\n"
        "After the table."
    )


def test_a_pipe_above_a_rule_is_not_a_table() -> None:
    assert to_mrkdwn("P/E | EV/EBITDA\n---") == "P/E | EV/EBITDA\n──────────"


def test_table_columns_count_wide_characters_twice() -> None:
    table = to_mrkdwn("| 名前 | x |\n|---|---|\n| ab | y |")
    assert table.splitlines()[1:4] == ["名前 | x", "-----+--", "ab   | y"]


def test_blank_lines_are_squeezed_and_trimmed() -> None:
    assert to_mrkdwn("\n\n\none\n\n\n\ntwo\n\n") == "one\n\ntwo"


def test_windows_line_endings_are_normalised() -> None:
    assert to_mrkdwn("**a**\r\n- b\r\n") == "*a*\n• b"


# --- helpers -----------------------------------------------------------------------------


def test_escape_mrkdwn_escapes_only_slacks_control_characters() -> None:
    assert escape_mrkdwn("a & b < c > d 'e' \"f\"") == "a &amp; b &lt; c &gt; d 'e' \"f\""


def test_slack_link_escapes_both_parts() -> None:
    assert slack_link("https://x.io/?a=1&b=|2>", "P&L <draft>") == (
        "<https://x.io/?a=1&amp;b=%7C2%3E|P&amp;L &lt;draft&gt;>"
    )
    assert slack_link("ftp://x.io/f", "file") == "file"
    assert slack_link("https://x.io") == "<https://x.io>"


def test_plain_text_drops_nested_emphasis_but_not_arithmetic() -> None:
    assert to_plain_text("*_both_* and 2*3*4 and snake_case_name") == (
        "both and 2*3*4 and snake_case_name"
    )


def test_plain_text_drops_link_syntax_and_emphasis() -> None:
    mrkdwn = "*Revenue* was <https://x.io|up> `5%` <!date^1^{date}|Jan 1> <@U1>\n```\ncode\n```"
    assert to_plain_text(mrkdwn) == "Revenue was up `5%` Jan 1 <@U1> code"


# --- split_message -----------------------------------------------------------------------


def test_short_text_is_one_chunk_and_empty_text_none() -> None:
    assert split_message("hello", 100) == ["hello"]
    assert split_message("  \n ", 100) == []


def test_split_prefers_paragraphs_over_lines_over_sentences_over_words() -> None:
    first = "Alpha beta gamma. " * 3 + "delta"
    text = f"{first}\n\nline two\nline three. word word"
    assert split_message(text, len(first) + 5) == [first, "line two\nline three. word word"]
    lines = "one two three\nfour five six. seven eight nine"
    assert split_message(lines, 25) == ["one two three", "four five six.", "seven eight nine"]


def test_a_heading_is_not_left_alone_at_the_end_of_a_chunk() -> None:
    text = "*Heading*\n\n" + "word " * 30
    chunks = split_message(text, 60)
    assert chunks[0].startswith("*Heading*\n\nword")


def test_links_are_never_broken() -> None:
    link = "<https://example.com/a/very/long/path?x=1&amp;y=2|a link with words>"
    text = f"see {link} and " * 5
    for chunk in split_message(text, len(link) + 10):
        assert chunk.count("<") == chunk.count(">")
    assert all(link in chunk for chunk in split_message(text, len(link) + 10) if "<" in chunk)


def test_a_code_block_that_must_be_split_is_closed_and_reopened() -> None:
    code = "\n".join(f"row {i:02d} = {i * i}" for i in range(30))
    chunks = split_message(f"Intro.\n\n```\n{code}\n```\nOutro.", 120)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.count(FENCE) % 2 == 0
        assert len(chunk) <= 120
    assert chunks[0].startswith("Intro.")
    assert chunks[-1].endswith("Outro.")
    rows = [line for chunk in chunks for line in chunk.splitlines() if line.startswith("row")]
    assert rows == code.splitlines()


def test_a_code_block_that_fits_is_moved_whole_to_the_next_chunk() -> None:
    prose = "Some words here. " * 5
    code = "```\n" + "x = 1\n" * 8 + "```"
    chunks = split_message(f"{prose}\n\n{code}", len(code) + 10)
    assert code in chunks


def test_code_indentation_survives_a_split() -> None:
    code = "```\n" + "\n".join(f"    indented {i}" for i in range(20)) + "\n```"
    chunks = split_message(code, 80)
    lines = [line for chunk in chunks for line in chunk.splitlines() if line != FENCE]
    assert lines == [f"    indented {i}" for i in range(20)]


def test_a_word_longer_than_a_chunk_is_the_only_thing_broken() -> None:
    chunks = split_message("short " + "x" * 50 + " tail", 20)
    assert chunks[0] == "short"
    assert "".join(chunks[1:-1]) + chunks[-1].removesuffix(" tail") == "x" * 50
    assert all(len(chunk) <= 20 for chunk in chunks)


def test_entities_are_never_cut() -> None:
    chunks = split_message("&amp;" * 10, 17)
    assert all(re.fullmatch(r"(&amp;)+", chunk) for chunk in chunks)


def test_split_rejects_a_limit_too_small_for_fences() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_message("text", 10)


def test_a_long_answer_splits_into_section_sized_chunks_quickly() -> None:
    paragraph = (
        "**Apple** reported revenue of $391.0B, up 2% ([10-K](https://sec.gov/aapl)). "
        "Margins widened; services grew 13%.\n\n"
    )
    table = "| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 40
    markdown = (paragraph * 60 + table + "```\n" + "print(1)\n" * 300 + "```\n") * 3
    chunks = split_message(to_mrkdwn(markdown))
    assert all(len(chunk) <= 3000 for chunk in chunks)
    assert all(chunk.count(FENCE) % 2 == 0 for chunk in chunks)


def test_clip_keeps_short_text_and_marks_what_it_cut() -> None:
    assert clip_mrkdwn("  short  ", 30) == "short"
    link = "<https://x.io/long/path|label words>"
    clipped = clip_mrkdwn(f"Intro words {link} and more words after it", 40)
    assert clipped == "Intro words …"
    assert clip_mrkdwn("x &amp;&amp;&amp;&amp;&amp;", 20) == "x …"


def test_clip_closes_a_code_block_it_cuts() -> None:
    clipped = clip_mrkdwn("```\n" + "row\n" * 100 + "```", 50)
    assert len(clipped) <= 50
    assert clipped.endswith("```" + " …")
    assert clipped.count(FENCE) == 2


def test_clip_cuts_only_the_first_chunk_of_a_huge_text_quickly() -> None:
    assert len(clip_mrkdwn("word " * 2_000_000, 100)) <= 100


def test_clip_rejects_a_limit_too_small() -> None:
    with pytest.raises(ValueError, match="limit"):
        clip_mrkdwn("text", 17)


# --- properties --------------------------------------------------------------------------

_word = st.text(alphabet="abcdefghij.,!?*_~-#&<>:;()", min_size=1, max_size=12)
_link = st.builds(
    lambda path, label: f"<https://x.io/{path}|{label}>",
    st.text(alphabet="abc/?=&", min_size=0, max_size=20).map(lambda s: s.replace("&", "&amp;")),
    st.text(alphabet="abc de", min_size=1, max_size=20).map(str.strip).filter(bool),
)
_separator = st.sampled_from([" ", " ", " ", "\n", "\n\n", "  ", "\t"])
_prose = st.lists(st.tuples(st.one_of(_word, _link), _separator), max_size=60).map(
    lambda parts: "".join(token + sep for token, sep in parts)
)
_code = st.lists(st.text(alphabet="xyz =<>&(){}", max_size=30), max_size=15).map(
    lambda lines: "```\n" + "\n".join(lines) + "\n```"
)
_document = st.lists(st.one_of(_prose, _code), max_size=6).map("\n\n".join)


def _visible(text: str) -> str:
    return re.sub(r"\s+", "", text.replace(FENCE, ""))


@settings(max_examples=120, deadline=None)
@given(text=_document, limit=st.integers(min_value=16, max_value=400))
def test_split_keeps_every_character_in_balanced_chunks_within_the_limit(
    text: str, limit: int
) -> None:
    chunks = split_message(text, limit)
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert all(chunk.count(FENCE) % 2 == 0 for chunk in chunks)
    assert _visible("".join(chunks)) == _visible(text)


@settings(max_examples=120, deadline=None)
@given(text=_prose, limit=st.integers(min_value=16, max_value=400))
def test_split_breaks_no_word_or_link_that_fits(text: str, limit: int) -> None:
    tokens = set(text.split())
    links = re.findall(r"<[^<>]*>", text)
    assume(all(len(unbreakable) <= limit for unbreakable in [*tokens, *links]))
    for chunk in split_message(text, limit):
        assert set(chunk.split()) <= tokens
        assert set(re.findall(r"<[^<>]*>", chunk)) <= set(links)


@settings(max_examples=120, deadline=None)
@given(markdown=st.text(max_size=400))
def test_to_mrkdwn_leaves_no_bare_control_characters(markdown: str) -> None:
    rendered = to_mrkdwn(markdown)
    without_links = re.sub(r"<(?:https?://|mailto:)[^<>\s|]+(?:\|[^<>]*)?>", "", rendered)
    assert "<" not in without_links
    assert re.search(r"&(?!amp;|lt;|gt;)", rendered) is None
    assert re.search(r"^(?!>)[^\n]*>", without_links.replace("&gt;", ""), re.M) is None
    assert rendered.count(FENCE) % 2 == 0


@settings(max_examples=100, deadline=None)
@given(markdown=st.text(alphabet="ab *_~`#->|[]()\n:/.h", max_size=300))
def test_rendered_markdown_splits_and_clips_cleanly(markdown: str) -> None:
    rendered = to_mrkdwn(markdown)
    for chunk in split_message(rendered, 40):
        assert len(chunk) <= 40
        assert chunk.count(FENCE) % 2 == 0
    clipped = clip_mrkdwn(rendered, 40)
    assert len(clipped) <= 40
    assert clipped.count(FENCE) % 2 == 0
