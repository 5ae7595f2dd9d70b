"""Any text a person sends is stored and read back alike on every backend, and never logged."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DBAPIError

from stores import SessionStore, Turn

QUESTION = "What was Apple's\x00 revenue in 2023?\r\u200b 😀 \x1b[31m"
CLEANED = "What was Apple's revenue in 2023?\u200b 😀 [31m"


async def test_control_characters_are_dropped_before_the_model_and_the_store(
    store: SessionStore, session_id: str, make_agent, model
) -> None:
    agent = make_agent(dexter_embeddings="lexical").agent

    result = await agent.run(QUESTION, session_id=session_id, store=store, user="U1")

    assert result.turn is not None and result.turn.question == CLEANED
    assert [t.question for t in await store.load(session_id)] == [CLEANED]
    sent = " ".join(r.text for r in model.requests())
    assert "\x00" not in sent and "\x1b" not in sent and "Apple's revenue" in sent


async def test_a_statement_that_fails_does_not_carry_the_question_into_logs(
    store: SessionStore, session_id: str, backend_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    if backend_name != "postgres":
        pytest.skip("only PostgreSQL refuses a NUL character in text")
    secret = "confidential merger target\x00 Acme"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(DBAPIError) as refused:
        await store.append(session_id, Turn(question=secret, answer="-"))

    assert "confidential" not in str(refused.value)
    assert "confidential" not in caplog.text
