"""Answers: JSON documents, the media type a client accepts, and gzip for large bodies."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from pydantic import BaseModel
from werkzeug.wrappers import Request, Response

from functions.http.problems import HttpProblem

JSON = "application/json"
COMPRESS_FROM = 1400
"""Bodies shorter than this (about one network packet) are sent as they are."""
GZIP_LEVEL = 1
"""The fastest: on a large answer, higher levels cost several times the CPU for a few percent
fewer bytes."""


def json_response(
    document: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if isinstance(document, BaseModel):
        payload = document.model_dump_json(exclude_none=True).encode()
    else:
        payload = orjson.dumps(document)
    return Response(payload, status, headers=headers, content_type=JSON)


def acceptable(request: Request, offered: tuple[str, ...]) -> str:
    """The media type to answer with, of those `offered`; a 406 if Accept allows none."""
    accept = request.headers.get("Accept")
    if not accept or accept == "*/*":
        return offered[0]
    best = request.accept_mimetypes.best_match(offered)
    if best is None:
        raise HttpProblem(
            406,
            "Not acceptable",
            f"this answers {', '.join(offered)}; the Accept header allows none of them",
        )
    return best


def compressed(request: Request, response: Response) -> Response:
    """The response gzip-encoded when it is large and the client accepts gzip."""
    if response.direct_passthrough or "Content-Encoding" in response.headers:
        return response
    data = response.get_data()
    if len(data) < COMPRESS_FROM:
        return response
    response.vary.add("Accept-Encoding")
    if not request.accept_encodings["gzip"]:
        return response
    response.set_data(gzip.compress(data, GZIP_LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response
