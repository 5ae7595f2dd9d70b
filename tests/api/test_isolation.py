"""The API never reaches a Slack thread's (or a terminal chat's) memory, however it is named."""

from __future__ import annotations

import pytest

from bot.threads import ThreadRef
from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL
from stores import Turn
from tests.api.conftest import ACCEPT_JSON, AUTH
from tests.remembered import store_beside

THREAD = ThreadRef(TEAM_ID, CHANNEL, "1710000000.000100")
NOT_API_SESSIONS = [
    THREAD.session_id,
    "slack:T:C:ts",
    "cli:0123456789ab",
    "api:" + THREAD.session_id,
    "api:" + "A" * 31 + ":",
    "api:" + "A" * 32 + "\n",
    "api:../" + "A" * 29,
    " api:" + "A" * 32,
    "API:" + "A" * 32,
    "",
]


@pytest.fixture
async def api(start_api, sqlite_url):
    return await start_api(dexter_store_url=sqlite_url)


@pytest.fixture
async def slack_thread(api, sqlite_url) -> str:
    """A Slack thread with one remembered turn, written straight into the shared store."""
    async with store_beside(sqlite_url) as store:
        await store.append(
            THREAD.session_id,
            Turn(question="Slack secret plans?", answer="only in Slack", user="U1"),
        )
    return THREAD.session_id


async def refusals(api, session_id: str) -> list:
    """Every route's answer to `session_id`, named in the body, query, header and cookie."""
    query = {"query": "what did we say?", "session_id": session_id}
    by_param = {"session_id": session_id}
    responses = [
        await api.client.post("/agent/query", json=query, headers={**AUTH, **ACCEPT_JSON}),
        await api.client.get("/agent/history", params=by_param, headers=AUTH),
        await api.client.delete("/agent/history", params=by_param, headers=AUTH),
    ]
    if session_id and session_id.isprintable() and session_id.strip() == session_id:
        by_header = {**AUTH, "X-Session-Id": session_id}
        by_cookie = {**AUTH, "Cookie": f"dexter_session={session_id}"}
        responses += [
            await api.client.post(
                "/agent/query", json={"query": "hi"}, headers={**by_header, **ACCEPT_JSON}
            ),
            await api.client.get("/agent/history", headers=by_header),
            await api.client.delete("/agent/history", headers=by_cookie),
            await api.client.get("/agent/history", headers=by_cookie),
        ]
    return responses


async def test_a_non_api_session_id_is_refused_by_every_route_and_source(
    api, slack_thread, model
) -> None:
    for session_id in NOT_API_SESSIONS:
        for response in await refusals(api, session_id):
            request = f"{response.request.method} {response.request.url} for {session_id!r}"
            assert response.status_code == 400, request
            assert response.json()["error"] == "invalid_session_id", request
            assert "Slack secret" not in response.text

    history = await api.remembered.load(slack_thread)
    assert [t.question for t in history] == ["Slack secret plans?"]
    assert model.requests() == []


async def test_api_sessions_are_listed_apart_from_the_slack_channel(api, slack_thread, model):
    created = await api.client.post("/agent/session", headers=AUTH)
    session_id = created.json()["session_id"]
    await api.client.post(
        "/agent/query",
        json={"query": "Apple revenue", "session_id": session_id},
        headers={**AUTH, **ACCEPT_JSON},
    )

    listed = await api.remembered.sessions(THREAD.scope)

    assert [s.session_id for s in listed] == [slack_thread]
    assert session_id.startswith("api:")


async def test_slack_and_the_api_share_one_server(api) -> None:
    unsigned = await api.client.post("/slack/events", content=b"{}")
    health = await api.client.get("/healthz")

    assert unsigned.status_code == 401 and unsigned.json() == {"error": "invalid_signature"}
    assert health.json() == {"ok": True, "store": "up"}
