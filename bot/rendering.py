"""Markdown, as a model writes it, turned into Slack mrkdwn and cut to Slack's size limits.

Models answer in CommonMark-ish Markdown; Slack shows `**bold**` and `[text](url)`
literally and has no headings or tables. `to_mrkdwn` rewrites what Slack can show and
escapes the three characters Slack treats as control characters (`&`, `<`, `>`), so model
text can never smuggle in a `<!channel>` ping or a disguised link. `split_message` then cuts
the result into pieces a section block accepts (3,000 characters) without breaking a word,
a link or a code block. All of it is pure functions, tested without Slack.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

__all__ = [
    "SECTION_TEXT_LIMIT",
    "clip_mrkdwn",
    "escape_mrkdwn",
    "slack_link",
    "split_message",
    "to_mrkdwn",
    "to_plain_text",
]

SECTION_TEXT_LIMIT = 3000
"""Slack's maximum length of a section block's text."""

_MIN_SPLIT_LIMIT = 16
_CLIP_MARK = " …"
_FENCE = "```"
_FENCE_CLOSE = "\n```"
_FENCE_OPEN = "```\n"
_THEMATIC_BREAK = "──────────"

# Markers that never occur in rendered text: input is cleaned of them first.
_SLOT_OPEN = "\x00"
_SLOT_CLOSE = "\x01"
_BOLD = "\x02"
_SLOT = re.compile("\x00(\\d+)\x01")

# --- block level -------------------------------------------------------------------------
_FENCE_LINE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_HEADING = re.compile(r"^[ ]{0,3}#{1,6}(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^[ ]{0,3}([-*_])[ \t]*(?:\1[ \t]*){2,}$")
_QUOTE = re.compile(r"^[ ]{0,3}>[ \t]?(?P<rest>.*)$")
_BULLET = re.compile(r"^(?P<indent>[ \t]*)[-*+](?:[ \t]+(?P<rest>.*))?$")
_TASK = re.compile(r"^\[(?P<mark>[ xX])\][ \t]+")
_NUMBERED = re.compile(r"^(?P<indent>[ \t]*)(?P<number>\d{1,9})[.)][ \t]+(?P<rest>.*)$")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")

# --- inline level ------------------------------------------------------------------------
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_CODE_SPAN = re.compile(r"(?P<ticks>`+)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_URL = r"(?P<url>(?:[^()\s<>]|\([^()\s<>]*\))+)"
_TITLE = r"""(?:[ \t]+(?:"[^"]*"|'[^']*'|\([^)]*\)))?"""
_IMAGE = re.compile(r"!\[(?P<label>[^\]]*)\]\(\s*<?" + _URL + r">?" + _TITLE + r"\s*\)")
_LINK = re.compile(r"\[(?P<label>[^\]]+)\]\(\s*<?" + _URL + r">?" + _TITLE + r"\s*\)")
_AUTOLINK = re.compile(r"<(?P<url>(?:https?://|mailto:)[^<>\s]+)>")
_BOLD_ITALIC = re.compile(r"\*\*\*(?=\S)(?P<text>.+?)(?<=\S)\*\*\*")
_BOLD_STARS = re.compile(r"\*\*(?=\S)(?P<text>.+?)(?<=\S)\*\*")
_BOLD_UNDERSCORES = re.compile(r"(?<![\w])__(?=\S)(?P<text>.+?)(?<=\S)__(?![\w])")
_ITALIC_STARS = re.compile(r"(?<![*\w])\*(?=[^\s*])(?P<text>.+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(?P<text>.+?)(?<=\S)~~")
_STRONG_MARKERS = re.compile(r"\*\*|__|~~")
_LINKABLE_SCHEMES = ("http://", "https://", "mailto:")

# --- plain text --------------------------------------------------------------------------
_SLACK_LINK = re.compile(r"<(?P<target>[^<>|]*)(?:\|(?P<label>[^<>]*))?>")
_PLAIN_EMPHASIS = re.compile(r"(?<!\w)([*_~])(?=\S)(?P<text>[^*_~\n]*?\S)\1(?!\w)")

# --- splitting ---------------------------------------------------------------------------
_WHITESPACE = re.compile(r"\s+")
_ATOM = re.compile(r"<[^<>\n]*>|`[^`\n]+`")
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_SENTENCE_END = ".!?"
_CLOSING_PUNCTUATION = ")]\"'*_~"


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters so text shows as written.

    Slack parses `&`, `<` and `>` itself (links, mentions, `<!channel>`), so any of them that
    is not ours must be sent as an HTML entity; nothing else may be entity-encoded.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str | None = None) -> str:
    """`<url|label>` for a web or mail link; just the escaped label for anything else.

    Only http(s) and mailto are linked, so a model's `javascript:` or relative link shows
    as text. The label is escaped here; `|`, `<` and `>` in the URL are percent-encoded
    because they would end Slack's link syntax early.
    """
    url = url.strip()
    shown = escape_mrkdwn(label.strip()) if label and label.strip() else None
    if not url.lower().startswith(_LINKABLE_SCHEMES):
        return shown if shown is not None else escape_mrkdwn(url)
    target = _link_target(url)
    return f"<{target}|{shown}>" if shown else f"<{target}>"


def _link_target(url: str) -> str:
    """A URL as the first half of Slack's `<url|label>`."""
    target = url.replace("&", "&amp;").replace("|", "%7C").replace("<", "%3C")
    return target.replace(">", "%3E")


def to_mrkdwn(markdown: str) -> str:
    """Rewrite a model's Markdown answer as Slack mrkdwn.

    Bold, italic, strikethrough and links become Slack's syntax; headings become bold
    lines, bullets become `•`, tables become aligned code blocks; code is kept as written
    (escaped, so it displays verbatim) with the language tag dropped. Slack has no
    escape for `*`, `_` or `~`, so Markdown backslash escapes become the bare character.
    """
    text = markdown.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub("[\x00-\x02]", "", text).expandtabs(4)
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        fence = _FENCE_LINE.match(lines[i])
        if fence and not (fence["fence"][0] == "`" and "`" in fence["info"]):
            i = _convert_fenced_code(lines, i, fence, out)
        elif _is_table_start(lines, i):
            i = _convert_table(lines, i, out)
        else:
            out.append(_convert_line(lines[i]))
            i += 1
    return _squeeze_blank_lines(out)


def to_plain_text(mrkdwn: str) -> str:
    """What a notification should say for some mrkdwn: links reduced to their labels,
    dates to their fallback, emphasis and code fences dropped, whitespace collapsed.

    It stays entity-escaped, because Slack parses a message's `text` field too.
    """

    def link_text(match: re.Match[str]) -> str:
        target, label = match["target"], match["label"]
        if target.startswith(("@", "#")):
            return match[0]
        return label if label is not None else target.removeprefix("mailto:")

    text = _SLACK_LINK.sub(link_text, mrkdwn).replace(_FENCE, " ")
    for _nesting in range(2):
        text = _PLAIN_EMPHASIS.sub(r"\g<text>", text)
    return " ".join(text.split())


# --- to_mrkdwn: blocks -------------------------------------------------------------------


def _convert_fenced_code(lines: list[str], start: int, fence: re.Match[str], out: list[str]) -> int:
    """Copy a fenced code block verbatim (escaped); return the index after it."""
    marker, indent = fence["fence"], len(fence["indent"])
    closing = re.compile(rf"^[ ]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
    body: list[str] = []
    i = start + 1
    while i < len(lines) and not closing.match(lines[i]):
        line = lines[i]
        strip = min(indent, len(line) - len(line.lstrip(" ")))
        body.append(escape_mrkdwn(line[strip:].rstrip()))
        i += 1
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    if body:
        out.extend([_FENCE, *body, _FENCE])
    return i + 1


def _convert_line(line: str) -> str:
    """One line outside code and tables: its block syntax, then its inline syntax."""
    if not line.strip():
        return ""
    if heading := _HEADING.match(line):
        title = _inline(_STRONG_MARKERS.sub("", heading["text"] or "")).strip()
        return f"*{title}*" if title else ""
    if _RULE.match(line):
        return _THEMATIC_BREAK
    if quote := _QUOTE.match(line):
        rest = re.sub(r"^(?:[ \t]*>[ \t]?)+", "", quote["rest"])
        inner = _convert_line(rest)
        return f"> {inner}" if inner else ">"
    if bullet := _BULLET.match(line):
        rest = bullet["rest"] or ""
        if task := _TASK.match(rest):
            box = "☐" if task["mark"] == " " else "☑"
            rest = f"{box} {rest[task.end() :]}"
        return f"{bullet['indent']}• {_inline(rest)}".rstrip()
    if numbered := _NUMBERED.match(line):
        return f"{numbered['indent']}{numbered['number']}. {_inline(numbered['rest'])}".rstrip()
    return _inline(line.rstrip().removesuffix("\\").rstrip())


def _squeeze_blank_lines(lines: list[str]) -> str:
    """Join lines, keeping at most one blank line in a row and none at either end."""
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept)


# --- to_mrkdwn: tables -------------------------------------------------------------------


def _is_table_start(lines: list[str], i: int) -> bool:
    return (
        "|" in lines[i]
        and i + 1 < len(lines)
        and "|" in lines[i + 1]
        and _TABLE_DELIMITER.match(lines[i + 1]) is not None
    )


def _convert_table(lines: list[str], start: int, out: list[str]) -> int:
    """Render a Markdown table as a code block with aligned columns (Slack has no tables)."""
    header = _table_cells(lines[start])
    alignments = [_alignment(cell) for cell in _table_cells(lines[start + 1])]
    rows: list[list[str]] = []
    i = start + 2
    while i < len(lines) and "|" in lines[i] and lines[i].strip():
        if _FENCE_LINE.match(lines[i]):
            break
        rows.append(_table_cells(lines[i]))
        i += 1
    table = [[_cell_text(cell) for cell in row] for row in [header, *rows]]
    columns = max(len(row) for row in table)
    for row in table:
        row.extend([""] * (columns - len(row)))
    alignments.extend(["left"] * (columns - len(alignments)))
    widths = [max(_display_width(row[c]) for row in table) for c in range(columns)]

    def render(row: list[str]) -> str:
        cells = [_pad(cell, widths[c], alignments[c]) for c, cell in enumerate(row)]
        return escape_mrkdwn(" | ".join(cells).rstrip())

    rule = "-+-".join("-" * width for width in widths)
    out.extend([_FENCE, render(table[0]), rule, *(render(row) for row in table[1:]), _FENCE])
    return i


def _table_cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner.removeprefix("|")
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SEPARATOR.split(inner)]


def _alignment(delimiter: str) -> str:
    delimiter = delimiter.strip()
    if delimiter.startswith(":") and delimiter.endswith(":") and len(delimiter) > 1:
        return "center"
    return "right" if delimiter.endswith(":") else "left"


def _cell_text(cell: str) -> str:
    """A cell as plain text: formatting cannot show inside a code block, so it goes."""
    text = _HTML_BREAK.sub(" ", cell)
    text = _IMAGE.sub(lambda m: m["label"] or m["url"], text)
    text = _LINK.sub(lambda m: m["label"], text)
    text = _STRONG_MARKERS.sub("", text).replace("`", "")
    text = _ITALIC_STARS.sub(r"\g<text>", text)
    return _BACKSLASH_ESCAPE.sub(r"\1", text).strip()


def _display_width(text: str) -> int:
    """Columns a string takes in a monospace font: wide CJK counts 2, combining marks 0."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, alignment: str) -> str:
    gap = width - _display_width(text)
    if alignment == "right":
        return " " * gap + text
    if alignment == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


# --- to_mrkdwn: inline -------------------------------------------------------------------


def _inline(text: str) -> str:
    """Convert one line's inline Markdown.

    Code, links and backslash escapes are swapped for numbered slots first, so escaping
    and emphasis rules never touch them, then put back at the end.
    """
    slots: list[str] = []

    def keep(rendered: str) -> str:
        slots.append(rendered)
        return f"{_SLOT_OPEN}{len(slots) - 1}{_SLOT_CLOSE}"

    def restore(value: str) -> str:
        while _SLOT.search(value):
            value = _SLOT.sub(lambda m: slots[int(m[1])], value)
        return value

    def code(match: re.Match[str]) -> str:
        content = match["code"]
        if content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        return keep(f"`{escape_mrkdwn(content)}`")

    def link(match: re.Match[str]) -> str:
        label = restore(escape_mrkdwn(match["label"])).replace("`", "")
        label = _STRONG_MARKERS.sub("", label).strip()
        url = match["url"]
        if not url.lower().startswith(_LINKABLE_SCHEMES):
            return keep(label or escape_mrkdwn(url))
        target = _link_target(url)
        return keep(f"<{target}|{label}>" if label else f"<{target}>")

    text = _CODE_SPAN.sub(code, text)
    text = _BACKSLASH_ESCAPE.sub(lambda m: keep(escape_mrkdwn(m[1])), text)
    text = _HTML_BREAK.sub("\n", text)
    text = _IMAGE.sub(link, text)
    text = _LINK.sub(link, text)
    text = _AUTOLINK.sub(lambda m: keep(slack_link(m["url"])), text)
    text = escape_mrkdwn(text)
    text = _BOLD_ITALIC.sub(lambda m: f"{_BOLD}_{m['text']}_{_BOLD}", text)
    text = _BOLD_STARS.sub(lambda m: f"{_BOLD}{m['text']}{_BOLD}", text)
    text = _BOLD_UNDERSCORES.sub(lambda m: f"{_BOLD}{m['text']}{_BOLD}", text)
    text = _ITALIC_STARS.sub(r"_\g<text>_", text)
    text = _STRIKE.sub(r"~\g<text>~", text)
    return restore(text.replace(_BOLD, "*"))


# --- split_message -----------------------------------------------------------------------


def split_message(mrkdwn: str, limit: int = SECTION_TEXT_LIMIT) -> list[str]:
    """Cut mrkdwn into chunks of at most `limit` characters, in order.

    A cut prefers a paragraph break, then a line break, then a sentence end, then a space,
    taking the latest of the best kind once a chunk is a third full (so a heading stays
    with its text). It never falls inside a link, mention, inline code or entity; a code
    block is only cut when it has to be, and then at a line if it can, closed with a fence
    and reopened in the next chunk. Only a word (or link) longer than a chunk is broken.
    Whitespace at the cuts is dropped; nothing else is lost.
    """
    if limit < _MIN_SPLIT_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_SPLIT_LIMIT}, not {limit}")
    text = mrkdwn.strip()
    if text.count(_FENCE) % 2:
        text += _FENCE_CLOSE
    chunks: list[str] = []
    while text:
        if len(text) <= limit:
            chunks.append(text)
            break
        head, tail = _cut(text, limit)
        chunks.append(head)
        text = tail.strip()
    return chunks


def clip_mrkdwn(mrkdwn: str, limit: int) -> str:
    """At most `limit` characters of mrkdwn: the first chunk `split_message` would make,
    marked " …" when something was left out. Only that chunk is cut, however long the text.
    """
    if limit - len(_CLIP_MARK) < _MIN_SPLIT_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_SPLIT_LIMIT + len(_CLIP_MARK)}")
    text = mrkdwn.strip()
    if len(text) <= limit:
        return text
    if text.count(_FENCE) % 2:
        text += _FENCE_CLOSE
    head, _ = _cut(text, limit - len(_CLIP_MARK))
    return head + _CLIP_MARK


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where, near the start of a text, a cut may and may not fall."""

    blocks: list[tuple[int, int]]
    """(opening fence, closing fence) of each code block; its content lies between."""
    atom_starts: list[int]
    atom_ends: list[int]
    """Sorted spans never to cut inside: links, inline code, entities, fences."""

    def code_block_at(self, position: int) -> tuple[int, int] | None:
        for opening, closing in self.blocks:
            if opening < position < closing + len(_FENCE):
                return opening, closing
        return None

    def inside_atom(self, position: int) -> bool:
        index = bisect_right(self.atom_starts, position - 1) - 1
        return index >= 0 and position < self.atom_ends[index]


def _layout(text: str, limit: int) -> _Layout:
    """Map code blocks and unbreakable spans as far as any chunk cut at `limit` can reach."""
    reach = 2 * limit + 2
    blocks: list[tuple[int, int]] = []
    position = text.find(_FENCE)
    while position != -1 and position <= reach:
        closing = text.find(_FENCE, position + len(_FENCE))
        if closing == -1:
            closing = len(text)
        blocks.append((position, closing))
        position = text.find(_FENCE, closing + len(_FENCE))
    spans: list[tuple[int, int]] = []
    previous = 0
    for opening, closing in blocks:
        spans.extend(m.span() for m in _ATOM.finditer(text, previous, min(opening, reach)))
        spans.extend([(opening, opening + len(_FENCE)), (closing, closing + len(_FENCE))])
        previous = closing + len(_FENCE)
    if previous < reach:
        spans.extend(m.span() for m in _ATOM.finditer(text, previous, reach))
    spans.extend(m.span() for m in _ENTITY.finditer(text, 0, reach))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return _Layout(blocks, [start for start, _ in merged], [end for _, end in merged])


def _cut(text: str, limit: int) -> tuple[str, str]:
    """Split off the first chunk of `text`, which is longer than `limit`."""
    layout = _layout(text, limit)
    best: tuple[bool, float, int] | None = None
    min_fill = limit // 3
    for run in _WHITESPACE.finditer(text, 0, limit + 1):
        start = run.start()
        block = layout.code_block_at(start)
        if block is not None:
            newline = run[0].find("\n")
            position = start + newline if newline >= 0 else start
            if not _code_cut_allowed(text, layout, block, position, limit):
                continue
            strength = 0.5 if newline >= 0 else 0.25
        else:
            position = start
            if layout.inside_atom(position):
                continue
            strength = _plain_strength(text, run)
        candidate = (position >= min_fill, strength, position)
        if best is None or candidate > best:
            best = candidate
    if best is not None:
        return _cut_at(text, layout, best[2])
    return _cut_at(text, layout, _hard_cut_position(text, layout, limit))


def _plain_strength(text: str, run: re.Match[str]) -> float:
    newlines = run[0].count("\n")
    if newlines >= 2:
        return 4
    if newlines == 1:
        return 3
    before = text[run.start() - 1]
    if before in _SENTENCE_END or (
        before in _CLOSING_PUNCTUATION
        and run.start() >= 2
        and text[run.start() - 2] in _SENTENCE_END
    ):
        return 2
    return 1


def _code_cut_allowed(
    text: str, layout: _Layout, block: tuple[int, int], position: int, limit: int
) -> bool:
    """A cut inside a code block needs room for the closing fence and code on both sides."""
    opening, closing = block
    content_start = opening + len(_FENCE)
    return (
        content_start < position < closing
        and position + len(_FENCE_CLOSE) <= limit
        and not layout.inside_atom(position)
        and bool(text[content_start:position].strip())
        and bool(text[position:closing].strip())
    )


def _hard_cut_position(text: str, layout: _Layout, limit: int) -> int:
    """The latest position a cut may fall when no whitespace does: mid-word, but still
    outside links, entities and fences; mid-link only for a link longer than a chunk."""
    for position in range(limit, 0, -1):
        block = layout.code_block_at(position)
        if block is not None:
            if _code_cut_allowed(text, layout, block, position, limit):
                return position
        elif not layout.inside_atom(position):
            return position
    block = layout.code_block_at(limit)
    return limit - len(_FENCE_CLOSE) if block is not None else limit


def _cut_at(text: str, layout: _Layout, position: int) -> tuple[str, str]:
    if layout.code_block_at(position) is None:
        return text[:position].rstrip(), text[position:]
    rest = text[position + 1 :] if text[position] == "\n" else text[position:]
    return text[:position] + _FENCE_CLOSE, _FENCE_OPEN + rest
