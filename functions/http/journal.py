"""What a journaled route's log entry holds (the prediction log): who asked, what, what came
back and how long it took. Never a secret: the Authorization header is not kept, a query
parameter the route does not know is kept by name only, and so is a body field it does not
know in a refused request."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.http.parameters import NOT_KEPT
from functions.http.problems import HttpProblem


def entry(
    path: str,
    query: dict[str, Any],
    caller: str,
    document: Any,
    answer: int | HttpProblem,
    latency_ms: float,
    body: type[BaseModel] | None,
) -> dict[str, Any]:
    """`query` as `parameters.known_query` keeps it; `answer` the status of a response, or the
    problem answered."""
    status = answer.status if isinstance(answer, HttpProblem) else answer
    return {
        "caller": caller,
        "n_stones": stones(document),
        "request": {
            "path": path,
            "query": query,
            "body": document if status < 400 else _known_fields(document, body),
        },
        "status": status,
        "latency_ms": latency_ms,
        "model_version": None,
        "response": answer.document() if isinstance(answer, HttpProblem) else None,
    }


def stones(document: Any) -> int | None:
    if isinstance(document, list):
        return len(document)
    return 1 if isinstance(document, dict) else None


def _known_fields(document: Any, model: type[BaseModel] | None) -> Any:
    """A refused body with the values of fields `model` does not know left out."""
    if model is None:
        return document
    known = model.model_fields
    if isinstance(document, dict):
        return {k: (v if k in known else NOT_KEPT) for k, v in document.items()}
    if isinstance(document, list):
        return [_known_fields(item, model) for item in document]
    return document
