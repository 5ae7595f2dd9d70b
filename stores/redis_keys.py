"""The names of Dexter's Redis keys, one function per kind, and how server errors surface.

`prefix` keeps deployments (and tests) apart on one server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stores.base import StoreUnavailable, describe_failure

SERVER_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


@contextmanager
def unavailable_on_error(url: str) -> Iterator[None]:
    """Turn the client's connection failures into `StoreUnavailable`."""
    try:
        yield
    except SERVER_ERRORS as exc:
        raise StoreUnavailable(url, describe_failure(exc, url)) from exc


def turns_key(prefix: str, session_id: str) -> str:
    return f"{prefix}:turns:{session_id}"


def meta_key(prefix: str, session_id: str) -> str:
    return f"{prefix}:meta:{session_id}"


def scope_index_key(prefix: str, scope: str) -> str:
    return f"{prefix}:sessions:{scope}"


def event_key(prefix: str, event_id: str) -> str:
    return f"{prefix}:event:{event_id}"


def lock_key(prefix: str, session_id: str) -> str:
    return f"{prefix}:lock:{session_id}"


def person_index_key(prefix: str, user: str) -> str:
    return f"{prefix}:people:{user}"


def feedback_key(prefix: str, session_id: str) -> str:
    return f"{prefix}:feedback:{session_id}"


def people_key(prefix: str, session_id: str) -> str:
    """The people who asked in a session, so that clearing it can find their indexes."""
    return f"{prefix}:people-of:{session_id}"


def inbox_key(prefix: str, session_id: str) -> str:
    return f"{prefix}:inbox:{session_id}"


def inbox_index_key(prefix: str) -> str:
    return f"{prefix}:inbox"


def owner_key(prefix: str, owner: str) -> str:
    return f"{prefix}:owner:{owner}"
