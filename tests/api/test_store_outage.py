"""A session store that goes down: 503 with a reference, or an `error` event, never a 500."""

from __future__ import annotations

import secrets

from tests.api.conftest import ACCEPT_JSON, AUTH, stream_query
from tests.external_servers import REDIS_HOST, REDIS_PORT, need_service, redis_url
from tests.stores.tcp_proxy import TCPProxy


async def test_a_store_outage_is_a_503_or_an_error_event_and_recovers(start_api, model) -> None:
    need_service("Redis", REDIS_HOST, REDIS_PORT)
    proxy = TCPProxy(REDIS_HOST, REDIS_PORT)
    await proxy.start()
    url = redis_url().replace(f"{REDIS_HOST}:{REDIS_PORT}", f"127.0.0.1:{proxy.port}")
    api = await start_api(
        dexter_store_url=url, dexter_redis_prefix=f"dexter-api-test-{secrets.token_hex(4)}"
    )
    session_id = (await api.client.post("/agent/session", headers=AUTH)).json()["session_id"]
    named = {"session_id": session_id}

    await proxy.cut()
    history = await api.client.get("/agent/history", params=named, headers=AUTH)
    erase = await api.client.delete("/agent/history", params=named, headers=AUTH)
    as_json = await api.client.post(
        "/agent/query", json={"query": "Apple revenue", **named}, headers={**AUTH, **ACCEPT_JSON}
    )
    streamed = await stream_query(api.client, {"query": "Apple revenue", **named}, headers=AUTH)
    await proxy.restore()
    recovered = await api.client.get("/agent/history", params=named, headers=AUTH)

    for response in (history, erase, as_json):
        assert response.status_code == 503, response.request.url
        body = response.json()
        assert body["error"] == "store_unavailable" and len(body["reference"]) == 8
        assert url not in response.text and "ConnectionError" not in response.text
    assert streamed.status == 200 and streamed.last.event == "error"
    assert streamed.last.data["error"] == "store_unavailable"
    assert streamed.last.data["status"] == 503
    assert recovered.status_code == 200
    await api.client.delete("/agent/history", params=named, headers=AUTH)
    await proxy.cut()
