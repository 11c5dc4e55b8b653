"""What a journaled route's log entry holds (the prediction log): who asked, what, what came
back and how long it took. Never a secret: the Authorization header is not kept, a query
parameter the route does not know is kept by name only, and so is a body field it does not
know in a refused request."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from werkzeug.wrappers import Request, Response

from functions.http.parameters import NOT_KEPT, known_query
from functions.http.problems import HttpProblem


def entry(
    request: Request,
    caller: str,
    document: Any,
    answer: Response | HttpProblem,
    latency_ms: float,
    query: type[BaseModel] | None,
    body: type[BaseModel] | None,
) -> dict[str, Any]:
    status = answer.status if isinstance(answer, HttpProblem) else answer.status_code
    return {
        "caller": caller,
        "n_stones": stones(document),
        "request": {
            "path": request.path,
            "query": known_query(request, query) if request.query_string else {},
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
