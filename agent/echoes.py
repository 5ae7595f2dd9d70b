"""The prompt's own fence tags dropped from a streamed reply, as the reply streams.

A weak model copies the `<question>` and `<data>` lines it was shown (as `&lt;data&gt;` from
a server that HTML-escapes its input) into its answer, where they would reach Slack. The
filter holds back only text that may still become such a tag, so what is streamed and what
is kept are the same text.
"""

from __future__ import annotations

from agent.prompts import FENCES

TAGS = tuple(
    form
    for name in FENCES
    for tag in (f"<{name}>", f"</{name}>")
    for form in (tag, tag.replace("<", "&lt;").replace(">", "&gt;"))
)


class EchoFilter:
    """Feed it the reply's pieces; it returns what may be shown of them so far."""

    def __init__(self) -> None:
        self._held = ""
        self._after_tag = False
        """A tag was dropped at the end of the last piece: its line break may come next."""

    def feed(self, piece: str) -> str:
        text, self._held = self._held + piece, ""
        if not text:
            return ""
        shown = []
        start = 1 if self._after_tag and text.startswith("\n") else 0
        self._after_tag = False
        while (at := _next_candidate(text, start)) != -1:
            shown.append(text[start:at])
            rest = text[at:]
            tag = next((t for t in TAGS if rest.startswith(t)), None)
            if tag is not None:  # dropped, with the line break after it
                end = at + len(tag)
                self._after_tag = end == len(text)
                start = end + text.startswith("\n", end)
                continue
            if any(t.startswith(rest) for t in TAGS):  # may still become a tag
                self._held = rest
                return "".join(shown)
            shown.append(text[at])
            start = at + 1
        shown.append(text[start:])
        return "".join(shown)

    def flush(self) -> str:
        """What was held back at the end of the reply (a tag begun and never finished)."""
        held, self._held = self._held, ""
        return held


def _next_candidate(text: str, start: int) -> int:
    """Where the next `<` or `&` is (a tag, raw or HTML-escaped, starts with one), or -1."""
    found = [i for i in (text.find("<", start), text.find("&", start)) if i != -1]
    return min(found, default=-1)
