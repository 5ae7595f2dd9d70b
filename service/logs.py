"""Logging set-up: one format, quiet HTTP clients, and no secret ever written out."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Shapes of the credentials Dexter handles, masked even if a library logs one.
SECRET_SHAPES = re.compile(r"\b(?:xox[abpr]-|xapp-|sk-)[A-Za-z0-9-_]{6,}")
MASK = "***"


class RedactingFormatter(logging.Formatter):
    """Masks known secret values and token shapes in the whole formatted record,
    tracebacks included (an exception's message may quote a URL or a header)."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))

    def redact(self, text: str) -> str:
        text = SECRET_SHAPES.sub(MASK, text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpx2", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
