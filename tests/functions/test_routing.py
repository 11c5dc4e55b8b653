"""The router on its own: what a client and the journal get when a handler fails."""

from __future__ import annotations

import orjson
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from functions.routing import Call, Route, Router
from functions.settings import ServiceSettings


def test_a_failing_handler_answers_a_500_problem_and_is_journaled() -> None:
    def fail(call: Call):
        raise RuntimeError("a bug, with a secret in its message")

    journal: list[dict] = []
    route = Route("GET", "/v1/fails", fail, "always fails", journal=journal.append)
    router = Router([route], ServiceSettings)
    response = router(Request(EnvironBuilder(path="/v1/fails").get_environ()))
    document = orjson.loads(response.get_data())
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert document["title"] == "Internal error"
    assert "secret" not in response.get_data(as_text=True)
    [entry] = journal
    assert entry["status"] == 500 and entry["response"] == document
    assert entry["caller"] == "anonymous" and entry["request"]["path"] == "/v1/fails"
