"""Where the test servers are, and what to do when one is absent.

On a laptop without Redis or PostgreSQL the tests that need them skip with a reason;
`.ci/run` sets `DEXTER_REQUIRE_SERVICES=1`, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import socket

import pytest

REDIS_HOST = os.environ.get("DEXTER_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("DEXTER_TEST_REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("DEXTER_TEST_REDIS_DB", "13"))
POSTGRES_HOST = os.environ.get("DEXTER_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("DEXTER_TEST_POSTGRES_PORT", "5432"))
POSTGRES_DB = os.environ.get("DEXTER_TEST_POSTGRES_DB", "test")
POSTGRES_USER = os.environ.get("DEXTER_TEST_POSTGRES_USER", "postgres")

REQUIRE_SERVICES = os.environ.get("DEXTER_REQUIRE_SERVICES", "") not in ("", "0", "false")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or, under `DEXTER_REQUIRE_SERVICES`, fail) when a server does not answer."""
    if port_open(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and DEXTER_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(f"{message}; start it to run this test")


def redis_url(db: int = REDIS_DB) -> str:
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


def postgres_url() -> str:
    return f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"
