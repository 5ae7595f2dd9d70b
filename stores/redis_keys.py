"""The names of Dexter's Redis keys, one method per kind, and how server errors surface.

`prefix` keeps deployments (and tests) apart on one server. On Redis Cluster every key of
one session carries the session id as its hash tag (`dexter:turns:{slack:T1:C2:17…}`), so
all of them live in one slot and a script or MULTI over them runs on one node. On a single
server the names stay untagged, as they always were, so an upgrade finds its data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from redis.exceptions import ClusterDownError, RedisClusterUnreachableError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stores.base import StoreUnavailable, describe_failure

SERVER_ERRORS = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    ClusterDownError,
    RedisClusterUnreachableError,
    SlotNotCoveredError,
)


@contextmanager
def unavailable_on_error(url: str) -> Iterator[None]:
    """Turn the client's connection failures into `StoreUnavailable`."""
    try:
        yield
    except SERVER_ERRORS as exc:
        raise StoreUnavailable(url, describe_failure(exc, url)) from exc


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under `prefix`; `cluster` hash-tags the keys of a session."""

    prefix: str
    cluster: bool = False

    def __post_init__(self) -> None:
        if self.cluster and ("{" in self.prefix or "}" in self.prefix):
            # a brace in the prefix would make the hash tag of every key
            raise ValueError(f"a Redis Cluster key prefix cannot contain braces: {self.prefix!r}")

    def _of_session(self, kind: str, session_id: str) -> str:
        """A key of one session; Slack, API and CLI session ids never start with `}`, so
        the tag is the whole id (or, were there a `}` inside, the same part of it)."""
        if self.cluster:
            return f"{self.prefix}:{kind}:{{{session_id}}}"
        return f"{self.prefix}:{kind}:{session_id}"

    def turns(self, session_id: str) -> str:
        return self._of_session("turns", session_id)

    def every_turns(self) -> str:
        """A SCAN pattern matching every session's turns list."""
        return f"{self.prefix}:turns:*"

    def session_of_turns(self, key: str) -> str:
        """The session id in the name of a turns list (`turns(session_id)` inverted)."""
        session_id = key.removeprefix(f"{self.prefix}:turns:")
        return session_id[1:-1] if self.cluster else session_id

    def meta(self, session_id: str) -> str:
        return self._of_session("meta", session_id)

    def feedback(self, session_id: str) -> str:
        return self._of_session("feedback", session_id)

    def people_of(self, session_id: str) -> str:
        """The people who asked in a session, so that clearing it can find their indexes."""
        return self._of_session("people-of", session_id)

    def lock(self, session_id: str) -> str:
        return self._of_session("lock", session_id)

    def inbox(self, session_id: str) -> str:
        return self._of_session("inbox", session_id)

    def scope_index(self, scope: str) -> str:
        return f"{self.prefix}:sessions:{scope}"

    def person_index(self, user: str) -> str:
        return f"{self.prefix}:people:{user}"

    def event(self, event_id: str) -> str:
        return f"{self.prefix}:event:{event_id}"

    def owner(self, owner: str) -> str:
        return f"{self.prefix}:owner:{owner}"

    def inbox_index(self) -> str:
        """The sessions with questions in their inbox: a set on one server; on a cluster a
        sorted set (under another name) scored by the time of each session's latest hold."""
        if self.cluster:
            return f"{self.prefix}:inbox-sessions"
        return f"{self.prefix}:inbox"
