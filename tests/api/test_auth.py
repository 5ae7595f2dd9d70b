"""Who may use the session API: the API key, a JWT, nobody (off), or anybody (local use)."""

from __future__ import annotations

import httpx
import jwt

from tests.api.conftest import (
    ACCEPT_JSON,
    API_KEY,
    AUTH,
    JWT_SECRET,
    bearer,
    make_jwt,
    stream_query,
)

SESSION = "api:" + "A" * 32
ROUTES = [
    ("POST", "/agent/session", None),
    ("POST", "/agent/query", {"query": "Apple revenue"}),
    ("GET", "/agent/history", None),
    ("DELETE", "/agent/history", None),
]


async def call(client: httpx.AsyncClient, method: str, path: str, body, **kwargs):
    params = {"session_id": SESSION} if path == "/agent/history" else None
    return await client.request(method, path, json=body, params=params, **kwargs)


async def test_every_route_refuses_missing_and_wrong_credentials(api) -> None:
    wrong_secret = make_jwt(secret="another-secret-" * 5)
    for method, path, body in ROUTES:
        for headers in ({}, {"X-API-Key": "wrong"}, bearer(wrong_secret)):
            response = await call(api.client, method, path, body, headers=headers)

            case = f"{method} {path} with {headers}"
            assert response.status_code == 401, case
            assert response.json()["error"] in {
                "credentials_missing",
                "invalid_api_key",
                "invalid_token",
            }, case
            challenge = response.headers["www-authenticate"]
            assert 'Bearer realm="dexter"' in challenge and "ApiKey" in challenge, case
            assert API_KEY not in response.text and JWT_SECRET not in response.text


async def test_the_api_key_and_a_valid_jwt_are_each_enough(api) -> None:
    by_key = await api.client.post("/agent/session", headers=AUTH)
    by_token = await api.client.post("/agent/session", headers=bearer(make_jwt()))

    assert by_key.status_code == by_token.status_code == 201


async def test_an_expired_jwt_is_refused(api) -> None:
    response = await api.client.post("/agent/session", headers=bearer(make_jwt(expires_in=-120)))

    assert response.status_code == 401
    assert response.json()["message"] == "the token has expired"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_jwt_of_another_algorithm_or_without_a_subject_is_refused(api) -> None:
    tokens = {
        "HS512": make_jwt(algorithm="HS512"),
        "alg none": make_jwt(algorithm="none", secret=""),
        "no sub": make_jwt(subject=None),
        "empty sub": make_jwt(subject=""),
        "garbage": "not.a.jwt",
    }
    for name, token in tokens.items():
        response = await api.client.post("/agent/session", headers=bearer(token))

        assert response.status_code == 401, name
        assert response.json()["error"] == "invalid_token", name


async def test_a_jwt_without_expiry_is_refused(api) -> None:
    token = jwt.encode({"sub": "alice"}, JWT_SECRET, algorithm="HS256")

    response = await api.client.post("/agent/session", headers=bearer(token))

    assert response.status_code == 401 and "exp" in response.json()["message"]


async def test_a_wrong_key_is_refused_even_with_a_valid_jwt(api) -> None:
    headers = {"X-API-Key": "wrong", **bearer(make_jwt())}

    response = await api.client.post("/agent/session", headers=headers)

    assert response.status_code == 401 and response.json()["error"] == "invalid_api_key"


async def test_a_jwt_subject_reaches_only_its_own_sessions(api, model) -> None:
    alice, bob = bearer(make_jwt("alice")), bearer(make_jwt("bob"))
    stream = await stream_query(api.client, {"query": "Apple revenue"}, headers=alice)
    session_id = stream.last.data["session_id"]
    api.client.cookies.clear()

    for headers in (bob, AUTH):
        history = await api.client.get(
            "/agent/history", params={"session_id": session_id}, headers=headers
        )
        erase = await api.client.delete(
            "/agent/history", params={"session_id": session_id}, headers=headers
        )
        query = await api.client.post(
            "/agent/query",
            json={"query": "and Tesla?", "session_id": session_id},
            headers={**headers, **ACCEPT_JSON},
        )
        assert [history.status_code, erase.status_code, query.status_code] == [404, 404, 404]
        assert history.json()["error"] == "session_not_found"
    assert "alice" not in session_id
    own = await api.client.get("/agent/history", params={"session_id": session_id}, headers=alice)
    assert own.status_code == 200 and own.json()["total"] == 1
    stored_user = (await api.remembered.load(session_id)).turns[0].user
    assert stored_user.startswith("jwt:") and "alice" not in stored_user  # subjects stay out


async def test_a_key_holders_session_is_not_a_jwt_subjects(api) -> None:
    session_id = (await api.client.post("/agent/session", headers=AUTH)).json()["session_id"]
    api.client.cookies.clear()

    response = await api.client.get(
        "/agent/history", params={"session_id": session_id}, headers=bearer(make_jwt())
    )

    assert response.status_code == 404


async def test_with_only_a_jwt_secret_an_api_key_is_not_a_credential(start_api) -> None:
    api = await start_api(backend_api_key=None)

    response = await api.client.post("/agent/session", headers=AUTH)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="dexter"'
    assert (await api.client.post("/agent/session", headers=bearer(make_jwt()))).status_code == 201


async def test_with_only_an_api_key_an_authorization_header_is_ignored(start_api) -> None:
    api = await start_api(jwt_secret=None)

    with_key = await api.client.post(
        "/agent/session", headers={**AUTH, "Authorization": "Basic Zm9vOmJhcg=="}
    )
    without = await api.client.post("/agent/session", headers=bearer(make_jwt()))

    assert with_key.status_code == 201 and without.status_code == 401


async def test_without_credentials_configured_the_api_is_off(start_api) -> None:
    api = await start_api(backend_api_key=None, jwt_secret=None)

    for method, path, body in ROUTES:
        response = await call(api.client, method, path, body, headers=AUTH)

        assert response.status_code == 404, path
        assert response.json()["error"] == "api_disabled"
        assert "DEXTER_API_ENABLED" in response.json()["message"]
    document = (await api.client.get("/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/agent")]


async def test_dexter_api_enabled_opens_it_without_credentials_for_local_use(
    start_api, model
) -> None:
    api = await start_api(
        backend_api_key=None, jwt_secret=None, dexter_api_enabled=True, host="127.0.0.1"
    )

    created = await api.client.post("/agent/session")
    stream = await stream_query(api.client, {"query": "Apple revenue"})

    assert created.status_code == 201
    assert (
        stream.last.event == "done"
        and stream.last.data["session_id"] == created.json()["session_id"]
    )
    document = (await api.client.get("/openapi.json")).json()
    assert "security" not in document["paths"]["/agent/query"]["post"]


async def test_an_open_api_is_refused_unless_bound_to_loopback(start_api) -> None:
    api = await start_api(
        backend_api_key=None, jwt_secret=None, dexter_api_enabled=True, host="0.0.0.0"
    )

    response = await api.client.post("/agent/session")

    assert response.status_code == 404 and response.json()["error"] == "api_disabled"


async def test_credentials_win_over_dexter_api_enabled(start_api) -> None:
    api = await start_api(jwt_secret=None, dexter_api_enabled=True)

    assert (await api.client.post("/agent/session")).status_code == 401
