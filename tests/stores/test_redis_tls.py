"""`rediss://` and `rediss+cluster://` reach Redis over TLS only, with the server's
certificate checked against the CA the URL names: real TLS-only servers of this test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stores import PendingQuestion, StoreUnavailable, Turn, open_store, scope_of
from tests.stores.cluster_servers import LocalRedisCluster, need_redis_programs, start_server
from tests.stores.tls_certificates import TLSFiles, loopback_certificates

SESSION = "slack:T0TLS:C0TLS:1700000000.000100"


@pytest.fixture
def tls(tmp_path: Path) -> TLSFiles:
    need_redis_programs()
    return loopback_certificates(tmp_path)


@pytest.fixture
def tls_server(tls: TLSFiles, tmp_path: Path) -> Iterator[int]:
    """A single `redis-server` that speaks TLS only; its port."""
    port, process = start_server(tmp_path / "single", tls)
    try:
        yield port
    finally:
        process.kill()
        process.wait()


async def test_a_rediss_url_reaches_a_tls_only_server_checked_against_its_ca(
    tls: TLSFiles, tls_server: int
) -> None:
    store = await open_store(f"rediss://127.0.0.1:{tls_server}/0?ssl_ca_certs={tls.ca}")
    try:
        await store.append(SESSION, Turn(question="over TLS?", answer="yes"))
        [turn] = (await store.load(SESSION)).turns
    finally:
        await store.close()

    assert turn.question == "over TLS?"
    with pytest.raises(StoreUnavailable):  # the server speaks nothing but TLS
        await open_store(f"redis://127.0.0.1:{tls_server}/0")
    with pytest.raises(
        StoreUnavailable, match=r"(?i)certificate"
    ):  # checked: not by the system CAs
        await open_store(f"rediss://127.0.0.1:{tls_server}/0")


async def test_a_rediss_cluster_url_runs_the_store_on_a_tls_only_cluster(
    tls: TLSFiles, tmp_path: Path
) -> None:
    cluster = LocalRedisCluster(tmp_path, tls)
    try:
        cluster.start()
        assert cluster.url.startswith("rediss+cluster://")
        store = await open_store(cluster.url)
        try:
            await store.append(SESSION, Turn(question="over TLS?", answer="yes", user="U1"))
            question = PendingQuestion("slack-message:T0TLS:C0TLS:2.0", SESSION, "2.0", "gone", "")
            held = await store.inbox.hold(question, ttl=60)
            adopted = await store.inbox.adopt("adopter", limit=10)
            [listed] = await store.sessions(scope_of(SESSION))
            [turn] = (await store.load(SESSION)).turns
        finally:
            await store.close()
    finally:
        cluster.stop()

    assert held and [q.key for q in adopted] == [question.key]
    assert listed.session_id == SESSION
    assert turn.question == "over TLS?"
