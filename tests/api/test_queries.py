"""Questions through the session API end to end: real HTTP in, the model and data stand-ins out."""

from __future__ import annotations

import asyncio

from standins.openai_server import Reply
from tests.api.conftest import ACCEPT_JSON, AUTH, stream_query

PROGRESS = {"phase", "plan", "tool_started", "tool_finished"}


async def new_session(api) -> str:
    response = await api.client.post("/agent/session", headers=AUTH)
    assert response.status_code == 201
    return response.json()["session_id"]


async def ask(api, query: str, session_id: str | None = None, **kwargs):
    body = {"query": query} if session_id is None else {"query": query, "session_id": session_id}
    return await stream_query(api.client, body, headers=kwargs.pop("headers", AUTH), **kwargs)


async def test_a_streamed_answer_has_progress_then_tokens_then_done(api, model) -> None:
    session_id = await new_session(api)

    stream = await ask(api, "What was Apple's revenue in 2023?", session_id)

    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    types = stream.types()
    assert types[0] == "phase" and stream.events[0].data["phase"] == "understanding"
    assert {"plan", "tool_started", "tool_finished"} <= set(types)
    first_token = types.index("answer_token")
    assert set(types[:first_token]) <= PROGRESS
    assert set(types[first_token:-1]) == {"answer_token"}
    assert types[-1] == "done" and types.count("done") == 1
    assert all(e.data["type"] == e.event for e in stream.events)
    done = stream.last.data
    tokens = "".join(e.data["text"] for e in stream.events if e.event == "answer_token")
    assert done["answer"] == tokens and "AAPL" in done["answer"]
    assert any("income-statements" in s["url"] for s in done["sources"])
    assert {"understand", "plan", "answer"} <= set(done["usage"])
    assert done["usage"]["answer"]["total_tokens"] > 0
    assert done["total_tokens"] == sum(u["total_tokens"] for u in done["usage"].values())
    assert done["seconds"] > 0 and done["seq"] == 1 and done["session_id"] == session_id
    stored = await api.remembered.load(session_id)
    assert [t.question for t in stored] == ["What was Apple's revenue in 2023?"]


async def test_json_mode_answers_with_one_object(api, model) -> None:
    session_id = await new_session(api)

    response = await api.client.post(
        "/agent/query",
        json={"query": "Tesla revenue 2024", "session_id": session_id},
        headers={**AUTH, **ACCEPT_JSON},
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert "TSLA" in body["answer"] and body["seq"] == 1 and body["session_id"] == session_id
    assert body["sources"] and body["usage"]["answer"]["prompt_tokens"] > 0
    assert "type" not in body


async def test_a_client_accepting_both_gets_the_stream(api, model) -> None:
    stream = await ask(
        api, "Apple revenue", headers={**AUTH, "Accept": "application/json, text/event-stream"}
    )

    assert stream.last.event == "done"


async def test_a_second_question_sees_the_first_turn(start_api, model) -> None:
    api = await start_api(dexter_embeddings="local")
    session_id = await new_session(api)

    await ask(api, "What was Nvidia's revenue in 2024?", session_id)
    second = await ask(api, "how did that change since 2021?", session_id)

    assert second.last.event == "done" and second.last.data["seq"] == 2
    assert "Nvidia's revenue in 2024" in model.requests("understand")[-1].text
    assert "Nvidia's revenue in 2024" in model.requests("answer")[-1].text
    assert "NVDA" in second.last.data["answer"]


async def test_the_session_comes_from_the_body_the_header_or_the_cookie(api, model) -> None:
    session_id = await new_session(api)
    other = await new_session(api)

    by_body = await ask(api, "Apple revenue", session_id)
    # the client holds `other`'s cookie (the last session created): the header wins over it
    by_header = await ask(api, "Microsoft revenue", headers={**AUTH, "X-Session-Id": session_id})
    api.client.cookies.clear()
    api.client.cookies.set("dexter_session", session_id)
    by_cookie = await ask(api, "Tesla revenue")
    body_first = await ask(
        api, "Amazon revenue", other, headers={**AUTH, "X-Session-Id": session_id}
    )

    assert [s.last.data["seq"] for s in (by_body, by_header, by_cookie)] == [1, 2, 3]
    assert {s.last.data["session_id"] for s in (by_body, by_header, by_cookie)} == {session_id}
    assert body_first.last.data["session_id"] == other
    assert [t.question for t in await api.remembered.load(other)] == ["Amazon revenue"]


async def test_a_question_without_a_session_starts_one(api, model) -> None:
    stream = await ask(api, "Apple revenue")

    session_id = stream.headers["X-Session-Id"]
    assert session_id.startswith("api:") and stream.last.data["session_id"] == session_id
    assert f"dexter_session={session_id}" in stream.headers["set-cookie"]
    follow_up = await ask(api, "and its net income?")  # the client now holds the cookie
    assert follow_up.last.data["session_id"] == session_id and follow_up.last.data["seq"] == 2


async def test_a_model_failure_is_an_error_event_in_the_stream(api, model) -> None:
    model.script("understand", Reply(status=400))
    session_id = await new_session(api)

    stream = await ask(api, "Apple revenue", session_id)

    assert stream.status == 200
    assert stream.last.event == "error" and "done" not in stream.types()
    error = stream.last.data
    assert error["error"] == "model_unavailable" and error["status"] == 502
    assert "language model" in error["message"] and len(error["reference"]) == 8
    assert "400" not in error["message"]
    assert len(await api.remembered.load(session_id)) == 0


async def test_a_model_failure_is_a_502_in_json_mode(api, model) -> None:
    model.script("understand", Reply(status=400))

    response = await api.client.post(
        "/agent/query", json={"query": "Apple revenue"}, headers={**AUTH, **ACCEPT_JSON}
    )

    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "model_unavailable" and len(body["reference"]) == 8


async def test_a_run_over_its_time_budget_is_a_504_in_json_mode(start_api, model) -> None:
    api = await start_api(dexter_run_timeout=0.5)
    model.script("plan", Reply(content='{"tasks": []}', delay=1.5))

    response = await api.client.post(
        "/agent/query", json={"query": "Apple revenue"}, headers={**AUTH, **ACCEPT_JSON}
    )

    assert response.status_code == 504 and response.json()["error"] == "timeout"


async def test_two_questions_at_once_in_one_session_are_answered_in_turn(api, model) -> None:
    session_id = await new_session(api)
    model.latency = 0.05

    first, second = await asyncio.gather(
        ask(api, "Apple revenue 2023", session_id), ask(api, "Microsoft revenue 2023", session_id)
    )

    assert sorted([first.last.data["seq"], second.last.data["seq"]]) == [1, 2]
    stored = await api.remembered.load(session_id)
    assert [t.seq for t in stored] == [1, 2]
    understand, answers = model.requests("understand"), model.requests("answer")
    assert understand[1].at > answers[0].at  # the second began after the first answered
    assert stored.turns[0].question in understand[1].text


async def test_a_client_that_disconnects_still_gets_its_answer_stored(api, model) -> None:
    session_id = await new_session(api)
    model.latency = 0.1
    body = {"query": "What was Apple's revenue in 2023?", "session_id": session_id}

    async with api.client.stream("POST", "/agent/query", json=body, headers=AUTH) as response:
        async for line in response.aiter_lines():
            if line.startswith("event: phase"):
                break  # leave after the first event, long before the answer

    assert len(await api.remembered.load(session_id)) == 0  # still researching
    await api.runtime.drain()
    stored = await api.remembered.load(session_id)
    assert [t.question for t in stored] == [body["query"]] and "AAPL" in stored.turns[0].answer
