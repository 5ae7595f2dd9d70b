"""Logging set-up: text for a terminal or JSON lines for a collector, quiet HTTP clients,
and no secret ever written out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from agent import log_context
from settings import LogFormat

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REFERENCE = re.compile(r"\[ref ([0-9a-f]{8})\]")

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


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: time, level, logger, message, the reference id a failure
    was told under, the session (hashed) and Slack event the line is about, and any
    traceback; each value redacted like the text format."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(message)s", secrets)

    def format(self, record: logging.LogRecord) -> str:
        message = self.redact(record.getMessage())
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        session, event = log_context.current()
        reference = REFERENCE.search(message)
        for name, value in (
            ("reference", reference.group(1) if reference else None),
            ("session", session),
            ("event", event),
        ):
            if value:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, secrets: Iterable[str], form: LogFormat = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter(secrets) if form == "json" else RedactingFormatter(TEXT_FORMAT, secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpx2", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
