"""Reading a request's JSON body: its size, media type, content coding and encoding, and
objects that name a key twice (JSON parsers keep the last value silently; this refuses them)."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import orjson
from werkzeug.wrappers import Request

from functions.http.problems import HttpProblem, invalid, pointer

GZIP = ("gzip", "x-gzip")
_SPACED_COLON = re.compile(rb'"\s+:')


def read_json(request: Request, limit: int) -> Any:
    """The body's JSON, at most `limit` bytes (once decompressed). The body stays cached on
    the request: functions-framework reads it again after every request."""
    length = request.content_length
    if length is not None and length > limit:
        raise too_large(limit)
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise HttpProblem(415, "Unsupported media type", f"send application/json, not {mimetype}")
    data = request.get_data()
    if len(data) > limit:
        raise too_large(limit)
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding and coding != "identity":
        data = _decoded(data, coding, limit)
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _unreadable(data, exc) from None
    if may_repeat_keys(data, document):
        _refuse_repeated_keys(data)
    return document


def too_large(limit: int) -> HttpProblem:
    return HttpProblem(413, "Body too large", f"the body may hold at most {limit:,} bytes")


def _decoded(data: bytes, coding: str, limit: int) -> bytes:
    if coding not in GZIP:
        raise HttpProblem(
            415,
            "Unsupported content encoding",
            f"the body is {coding}-encoded; send it as it is, or gzip-encoded",
        )
    inflate = zlib.decompressobj(wbits=31)
    try:
        out = inflate.decompress(data, limit + 1)
    except zlib.error as exc:
        raise HttpProblem(400, "Bad gzip body", f"the gzip body cannot be read: {exc}") from None
    if len(out) > limit or inflate.unconsumed_tail:
        raise too_large(limit)
    if not inflate.eof:
        raise HttpProblem(400, "Bad gzip body", "the gzip body is cut off")
    return out


def _unreadable(data: bytes, error: orjson.JSONDecodeError) -> HttpProblem:
    """Why a body is not JSON, the first fault a client would fix first. Looked for only once
    parsing failed: a readable body is not read twice."""
    if not data.strip():
        return HttpProblem(400, "Empty body", "the request needs a JSON body")
    if data[:2] == b"\x1f\x8b":
        return HttpProblem(
            400, "Bad encoding", "the body is gzip data: say so with Content-Encoding: gzip"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return HttpProblem(400, "Bad encoding", f"the body is not UTF-8 (byte {exc.start})")
    return HttpProblem(400, "Malformed JSON", f"the body is not valid JSON: {error}")


def may_repeat_keys(data: bytes, document: Any) -> bool:
    """False when the body certainly names no key twice: without backslashes or space before a
    colon, each key of the text ends in `":`, so counting those counts the keys sent, and the
    parsed objects of the top level (a body or a list of bodies) hold as many. Any other body
    is checked by a full parse."""
    if b"\\" in data or _SPACED_COLON.search(data):
        return True
    if isinstance(document, dict):
        kept = len(document)
    elif isinstance(document, list):
        kept = sum(len(item) for item in document if isinstance(item, dict))
    else:
        kept = 0
    return data.count(b'":') != kept


class _Pairs(dict):
    """An object as parsed, remembering the keys it was given more than once."""

    repeated: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    found = _Pairs(pairs)
    found.repeated = [] if len(found) == len(pairs) else _repeats(pairs)
    return found


def _repeats(pairs: list[tuple[str, Any]]) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for key, _ in pairs:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def _refuse_repeated_keys(data: bytes) -> None:
    """A 422 naming each object that holds a key twice, by the pointer to that key."""
    errors = [
        {"field": pointer((*where, key)), "detail": "given more than once in the same object"}
        for where, keys in _repeated(json.loads(data, object_pairs_hook=_pairs), ())
        for key in keys
    ]
    if errors:
        raise invalid(errors, "Repeated keys")


def _repeated(node: Any, where: tuple) -> list[tuple[tuple, list[str]]]:
    found = []
    if isinstance(node, _Pairs):
        if node.repeated:
            found.append((where, node.repeated))
        for key, value in node.items():
            found += _repeated(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _repeated(value, (*where, index))
    return found
