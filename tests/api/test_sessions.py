"""Sessions, history pages and erasure through the session API."""

from __future__ import annotations

import re

from api.sessions import SESSION_ID_PATTERN
from stores import Source, Turn
from tests.api.conftest import AUTH, stream_query
from tests.remembered import store_beside


async def add_turns(store, session_id: str, count: int) -> None:
    for n in range(1, count + 1):
        await store.append(
            session_id,
            Turn(
                question=f"question {n}",
                answer=f"answer {n}",
                summary=f"summary {n}",
                sources=(Source(f"source {n}", f"https://example.test/{n}"),),
            ),
        )


async def test_a_new_session_is_returned_and_set_as_a_lax_http_only_cookie(api) -> None:
    response = await api.client.post("/agent/session", headers=AUTH)

    assert response.status_code == 201
    session_id = response.json()["session_id"]
    assert re.fullmatch(SESSION_ID_PATTERN, session_id)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"dexter_session={session_id};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/agent"} <= attributes
    assert "secure" not in attributes
    second = await api.client.post("/agent/session", headers=AUTH)
    assert second.json()["session_id"] != session_id


async def test_the_cookie_is_secure_when_secure_cookies_is_on(start_api) -> None:
    api = await start_api(secure_cookies=True)

    response = await api.client.post("/agent/session", headers=AUTH)

    attributes = {part.strip().lower() for part in response.headers["set-cookie"].split(";")}
    assert {"secure", "httponly", "samesite=lax"} <= attributes


async def test_history_pages_go_newest_first_with_a_before_cursor(start_api, sqlite_url) -> None:
    api = await start_api(dexter_store_url=sqlite_url)
    session_id = (await api.client.post("/agent/session", headers=AUTH)).json()["session_id"]
    async with store_beside(sqlite_url) as store:
        await add_turns(store, session_id, 5)
    seen = []
    before = None

    while True:
        params = {"session_id": session_id, "limit": 2}
        if before is not None:
            params["before"] = before
        page = (await api.client.get("/agent/history", params=params, headers=AUTH)).json()
        seen.append([t["seq"] for t in page["turns"]])
        assert page["total"] == 5 and page["session_id"] == session_id
        before = page["next_before"]
        if before is None:
            break

    assert seen == [[5, 4], [3, 2], [1]]


async def test_history_shows_question_answer_summary_sources_and_time(api, model) -> None:
    stream = await stream_query(api.client, {"query": "Apple revenue 2023"}, headers=AUTH)
    session_id = stream.last.data["session_id"]

    response = await api.client.get(
        "/agent/history", params={"session_id": session_id}, headers=AUTH
    )

    assert response.status_code == 200
    (turn,) = response.json()["turns"]
    assert turn["seq"] == 1 and turn["question"] == "Apple revenue 2023"
    assert turn["answer"] == stream.last.data["answer"]
    assert turn["summary"] and turn["created_at"]
    assert turn["sources"] == stream.last.data["sources"]


async def test_history_of_a_session_with_no_turns_is_an_empty_page(api) -> None:
    session_id = (await api.client.post("/agent/session", headers=AUTH)).json()["session_id"]

    page = (await api.client.get("/agent/history", headers=AUTH)).json()  # by its cookie

    assert page == {"session_id": session_id, "turns": [], "total": 0, "next_before": None}


async def test_delete_erases_the_session_then_history_is_empty(
    start_api, sqlite_url, model
) -> None:
    api = await start_api(dexter_store_url=sqlite_url)
    stream = await stream_query(api.client, {"query": "Apple revenue 2023"}, headers=AUTH)
    session_id = stream.last.data["session_id"]
    async with store_beside(sqlite_url) as store:
        await add_turns(store, session_id, 2)

    deleted = await api.client.delete(
        "/agent/history", params={"session_id": session_id}, headers=AUTH
    )

    assert deleted.status_code == 200
    assert deleted.json() == {"session_id": session_id, "deleted_turns": 3}
    page = await api.client.get("/agent/history", params={"session_id": session_id}, headers=AUTH)
    assert page.json()["turns"] == [] and page.json()["total"] == 0
    assert len(await api.remembered.load(session_id)) == 0


async def test_history_without_any_session_named_is_a_400(api) -> None:
    response = await api.client.get("/agent/history", headers=AUTH)

    assert response.status_code == 400
    assert response.json()["error"] == "session_required"


async def test_erasing_waits_for_the_answer_in_progress_and_erases_it_too(api, model) -> None:
    session_id = (await api.client.post("/agent/session", headers=AUTH)).json()["session_id"]
    model.latency = 0.1
    body = {"query": "Apple revenue 2023", "session_id": session_id}

    async with api.client.stream("POST", "/agent/query", json=body, headers=AUTH) as response:
        async for line in response.aiter_lines():
            if line.startswith("event: phase"):
                break  # the answer is under way
        deleted = await api.client.delete(
            "/agent/history", params={"session_id": session_id}, headers=AUTH
        )

    assert deleted.json()["deleted_turns"] == 1
    await api.runtime.drain()
    assert len(await api.remembered.load(session_id)) == 0
