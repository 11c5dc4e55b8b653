"""Idempotency-Key on POST routes: a client that retries a request (a timeout, a lost
connection) with the same key gets the first answer again instead of a second stone or run.

The first answer is kept for a day per caller and key, whatever it was, unless the server
failed (5xx: a retry may succeed). The same key with another request (method, path, query or
body) is a 422; while the first request is still being served, a 409 asks the client to wait.
Requests refused before their handler ran (an invalid body) keep nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from werkzeug.wrappers import Request, Response

from functions.http.problems import HttpProblem, invalid

HEADER = "Idempotency-Key"
KEY_REUSED = "/v1/docs#idempotency-key-reused"
"""The problem type of a key sent again with another request."""
KEPT_HOURS = 24
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
KEPT_HEADERS = ("Content-Type", "Location", "ETag")


@dataclass(frozen=True)
class Kept:
    """A first answer, as kept."""

    status: int
    headers: dict[str, str]
    body: bytes


BUSY, OTHER = "busy", "other"


class Answers(Protocol):
    """Where first answers are kept (functions/database/idempotency.py)."""

    def begin(self, caller: str, key: str, method: str, path: str, digest: str) -> Kept | str:
        """Kept: the first answer to give again; BUSY: it is being served; OTHER: the key was
        used for another request; any other string: this request is the first, go on."""
        ...

    def keep(self, caller: str, key: str, answer: Kept) -> None: ...

    def forget(self, caller: str, key: str) -> None: ...


def once(
    request: Request, caller: str, answers: Answers, serve: Callable[[], Response]
) -> Response:
    """Serve the request under its Idempotency-Key: the first time for real, later the kept
    answer (marked `Idempotent-Replayed: true`)."""
    key = request.headers[HEADER]
    if not _KEY.fullmatch(key):
        raise invalid(
            [{"field": "/header/Idempotency-Key", "detail": "1 to 255 visible ASCII characters"}]
        )
    begun = answers.begin(caller, key, request.method, request.path, _digest(request))
    if isinstance(begun, Kept):
        return Response(
            begun.body,
            begun.status,
            headers={**begun.headers, "Idempotent-Replayed": "true"},
        )
    if begun == BUSY:
        raise HttpProblem(
            409,
            "Request in progress",
            f"a request with this {HEADER} is still being served: retry in a moment",
            headers={"Retry-After": "1"},
        )
    if begun == OTHER:
        raise invalid(
            [
                {
                    "field": "/header/Idempotency-Key",
                    "detail": f"used, within {KEPT_HOURS} h, for another request: "
                    "send a new key with a new request",
                }
            ],
            "Idempotency-Key reused",
            KEY_REUSED,
        )
    try:
        answer = serve()
    except HttpProblem as problem:
        _settle(answers, caller, key, problem.response())
        raise
    except BaseException:
        answers.forget(caller, key)
        raise
    _settle(answers, caller, key, answer)
    return answer


def _settle(answers: Answers, caller: str, key: str, answer: Response) -> None:
    if answer.status_code >= 500:
        answers.forget(caller, key)
        return
    headers = {name: answer.headers[name] for name in KEPT_HEADERS if name in answer.headers}
    answers.keep(caller, key, Kept(answer.status_code, headers, answer.get_data()))


def _digest(request: Request) -> str:
    """What makes two requests the same: method, path, query and body."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.query_string):
        digest.update(len(part).to_bytes(8, "big") + part)
    digest.update(request.get_data())
    return digest.hexdigest()
