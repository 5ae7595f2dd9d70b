"""Bad input is a 4xx with a JSON error body, never a 500, and never reaches the model."""

from __future__ import annotations

from tests.api.conftest import ACCEPT_JSON, AUTH

HEADERS = {**AUTH, **ACCEPT_JSON}


INVALID_QUESTIONS = {
    "unknown field": ({"query": "Apple?", "sesion_id": "sk-live-secret"}, "sesion_id"),
    "empty": ({"query": ""}, "query"),
    "blank": ({"query": " \n\t "}, "query"),
    "oversized": ({"query": "x" * 201}, "query"),
    "not a string": ({"query": 42}, "query"),
    "missing": ({}, "query"),
    "numeric session": ({"query": "Apple?", "session_id": 7}, "session_id"),
    "not an object": (["query"], None),
}


async def test_an_invalid_question_is_a_422_naming_the_field(start_api, model) -> None:
    api = await start_api(dexter_max_query_chars=200)

    for name, (body, field) in INVALID_QUESTIONS.items():
        response = await api.client.post("/agent/query", json=body, headers=HEADERS)

        assert response.status_code == 422, name
        error = response.json()
        assert error["error"] == "invalid_request", name
        if field is not None:
            assert any(d["loc"][-1] == field for d in error["detail"]), name
        assert "sk-live-secret" not in response.text and "x" * 201 not in response.text
    assert model.requests() == []


async def test_a_query_at_the_limit_after_trimming_is_accepted(start_api, model) -> None:
    api = await start_api(dexter_max_query_chars=20)

    response = await api.client.post(
        "/agent/query", json={"query": "  Apple revenue 2023  "}, headers=HEADERS
    )

    assert response.status_code == 200
    assert response.json()["seq"] == 1


async def test_a_body_far_over_the_limit_is_a_413_before_it_is_read(start_api, model) -> None:
    api = await start_api(dexter_max_query_chars=10)

    response = await api.client.post("/agent/query", json={"query": "x" * 100_000}, headers=HEADERS)

    assert response.status_code == 413  # Starlette's own plain-text refusal


async def test_a_body_that_is_not_json_is_a_4xx_with_a_json_error(api, model) -> None:
    headers = {**HEADERS, "Content-Type": "application/json"}
    bodies = [b"{not json", b"", b"\xff\xfe", b'{"query": "a"} trailing', b"\x80abc"]

    for content in bodies:
        response = await api.client.post("/agent/query", content=content, headers=headers)

        assert response.status_code in (400, 422), content
        assert response.json()["error"] in ("bad_request", "invalid_request"), content
    assert model.requests() == []


async def test_a_body_sent_as_a_form_is_a_422(api, model) -> None:
    response = await api.client.post("/agent/query", data={"query": "Apple"}, headers=HEADERS)

    assert response.status_code == 422


async def test_bad_history_paging_is_a_422(api) -> None:
    session_id = (await api.client.post("/agent/session", headers=AUTH)).json()["session_id"]
    paging = [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"before": 0}, {"before": "x"}]

    for params in paging:
        response = await api.client.get(
            "/agent/history", params={"session_id": session_id, **params}, headers=AUTH
        )

        assert response.status_code == 422, params
        assert response.json()["error"] == "invalid_request", params


async def test_a_session_route_with_a_wrong_method_is_a_405(api) -> None:
    response = await api.client.get("/agent/session", headers=AUTH)

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
