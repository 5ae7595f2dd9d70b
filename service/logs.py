"""Logging set-up: one format, quiet HTTP clients, and no secret ever written out."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Shapes of the credentials Dexter handles, masked even if a library logs one.
SECRET_SHAPES = re.compile(r"\b(?:xox[abpr]-|xapp-|sk-)[A-Za-z0-9-_]{6,}")
MASK = "***"


class RedactSecrets(logging.Filter):
    """Replaces known secret values and token shapes in every record's message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = SECRET_SHAPES.sub(MASK, message)
        for secret in self.secrets:
            clean = clean.replace(secret, MASK)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpx2", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
