"""What a `StoreUnavailable` says: enough to act on, never a password."""

from __future__ import annotations

from stores import StoreUnavailable
from stores.base import describe_failure, redact_url


def test_the_reason_is_the_root_cause_on_one_line_without_the_password() -> None:
    url = "postgresql+asyncpg://dexter:pa55@db:5432/dexter"
    try:
        try:
            raise ConnectionRefusedError(111, "connect to dexter:pa55@db refused")
        except OSError as inner:
            raise RuntimeError(
                "[SQL: INSERT INTO turns …]\n[parameters: ('secret question',)]"
            ) from inner
    except RuntimeError as outer:
        reason = describe_failure(outer, url)

    assert reason.startswith("ConnectionRefusedError: ")
    assert "pa55" not in reason and "secret question" not in reason
    assert "\n" not in reason


def test_store_unavailable_names_the_store_without_its_password() -> None:
    error = StoreUnavailable("redis://:hunter2@cache:6379/0", "ConnectionError: refused")

    assert "hunter2" not in str(error)
    assert "redis://:***@cache:6379/0" in str(error)
    assert error.url == redact_url("redis://:hunter2@cache:6379/0")
