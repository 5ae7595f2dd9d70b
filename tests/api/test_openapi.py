"""The OpenAPI document describes the API, and requests generated from it never get a 5xx.

Schemathesis generates requests from `/openapi.json` (valid ones, then ones that break the
schema) and sends them over real HTTP to the running server, with the model stand-in on
autopilot. Each response must be no server error, and have a documented status, content
type and body (SSE events included). Schemathesis is synchronous, so it runs in a thread
while the server runs on the test's loop; generation is derandomized so a failure repeats.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import AUTH

EXAMPLES = 12  # per operation and mode: 4 operations x 2 modes, about 10 s in all
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
API_PATHS = {"/agent/session", "/agent/query", "/agent/history"}


def fuzz(url: str, mode: GenerationMode) -> list[tuple[str, int]]:
    """Send generated requests to each operation and check each response.

    Returns (operation, status) of every request sent.
    """
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    seen: list[tuple[str, int]] = []

    def check(case: Any) -> None:
        response = case.call(base_url=url, headers=AUTH, timeout=20)
        seen.append((case.operation.label, response.status_code))
        case.validate_response(response, checks=CHECKS, headers=AUTH)

    for result in schema.get_all_operations():
        operation = result.ok()
        run = settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )(given(case=operation.as_strategy(generation_mode=mode))(check))
        run()
    return seen


async def test_the_document_lists_the_routes_with_their_security(api) -> None:
    document = (await api.client.get("/openapi.json")).json()

    assert set(document["paths"]) >= API_PATHS
    assert set(document["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    assert document["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    query = document["paths"]["/agent/query"]["post"]
    assert {"application/json", "text/event-stream"} <= set(query["responses"]["200"]["content"])
    assert {"401", "422", "502", "503", "504"} <= set(query["responses"])
    assert query["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert "delete" in document["paths"]["/agent/history"]
    assert "/slack/events" not in document["paths"]


async def test_generated_requests_never_get_a_server_error(api, model) -> None:
    positive = await asyncio.to_thread(fuzz, api.url, GenerationMode.POSITIVE)
    negative = await asyncio.to_thread(fuzz, api.url, GenerationMode.NEGATIVE)

    answered = {label for label, status in positive if status < 300}
    assert answered == {
        "POST /agent/session",
        "POST /agent/query",
        "GET /agent/history",
        "DELETE /agent/history",
    }
    assert {label for label, status in negative if 400 <= status < 500} >= answered - {
        "POST /agent/session"  # takes no input, so nothing to break
    }
