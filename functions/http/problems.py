"""Errors for the client: RFC 9457 problem documents, each naming the offending inputs by
RFC 6901 JSON pointers into the request (`/cut`, `/1/price`, `/query/limit`, `/path/id`)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from werkzeug.wrappers import Response

PROBLEM_JSON = "application/problem+json"


class HttpProblem(Exception):
    """An error for the client: becomes an application/problem+json response."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers = errors, headers or {}
        self.type = type or f"/v1/docs#problem-{status}"

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        return body

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.document()),
            self.status,
            headers=self.headers,
            content_type=PROBLEM_JSON,
        )


class Unavailable(RuntimeError):
    """Something a handler needs is not ready (a database not yet upgraded by its release):
    the client gets a 503 asking it to retry, the log gets the reason."""


def unavailable() -> HttpProblem:
    return HttpProblem(
        503,
        "Not ready",
        "the service is not ready yet (a release is being put in place); retry shortly",
        headers={"Retry-After": "30"},
    )


def invalid(
    errors: list[dict[str, str]], title: str = "Invalid input", type: str | None = None
) -> HttpProblem:
    """A 422 naming each offending input."""
    detail = "; ".join(f"{e['field'] or 'body'}: {e['detail']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return HttpProblem(422, title, detail, errors, type=type)


def failure() -> HttpProblem:
    """What a client is told when the server failed: nothing of why."""
    return HttpProblem(500, "Internal error", "the server failed; nothing was changed")


def pointer(location: tuple) -> str:
    """An RFC 6901 JSON pointer: `("query", "limit")` → `/query/limit`; `()` → `` (the whole)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def validation_errors(error: ValidationError, prefix: tuple = ()) -> list[dict[str, str]]:
    """pydantic's errors as (JSON pointer, message) pairs, without echoing huge inputs."""
    return [
        {"field": pointer(prefix + tuple(e["loc"])), "detail": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ]
