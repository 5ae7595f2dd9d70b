"""JSON as local model servers write it, read without refusing what is plainly meant."""

from __future__ import annotations

import html
import json
from typing import Any


def loads_leniently(text: str) -> Any:
    """JSON as local model servers write it: a raw newline or tab inside a string is read as
    itself (strict=False), and JSON whose quotes came back HTML-escaped (`&#34;`, as
    llama-cpp-python's function-calling chat format escapes them) is read unescaped."""
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        if "&#" not in text and "&quot;" not in text:
            raise
        return json.loads(html.unescape(text), strict=False)
