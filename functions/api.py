"""Routing, request parsing, auth and RFC 9457 errors, shared by every HTTP function.

Each function declares its routes as data (`Route`); the same declarations produce the OpenAPI
document, so what is documented is what is validated.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from functions.config import ServiceSettings

log = logging.getLogger("diamonds.api")
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error for the client: becomes an application/problem+json response."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers = errors, headers or {}

    def response(self) -> Response:
        body: dict[str, Any] = {
            "type": f"/v1/docs#problem-{self.status}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        return Response(
            orjson.dumps(body), self.status, headers=self.headers, content_type=PROBLEM_JSON
        )


def invalid(errors: list[dict[str, str]], title: str = "Invalid input") -> Problem:
    detail = "; ".join(f"{e['field'] or 'body'}: {e['detail']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return Problem(422, title, detail, errors)


def refuse_implausible(problems: list[list[tuple[str, str]]], single: bool) -> None:
    """A 422 for stones with (field, message) problems, each error pointing into the request:
    `/carat` for one stone, `/3/carat` for the fourth of a list. Nothing if there are none."""
    errors = [
        {"field": f"/{field}" if single else f"/{i}/{field}", "detail": message}
        for i, found in enumerate(problems)
        for field, message in found
    ]
    if errors:
        raise invalid(errors, "Implausible stone" if single else "Implausible stones")


def pointer(location: tuple) -> str:
    return "/" + "/".join(str(part) for part in location) if location else ""


def validation_errors(error: ValidationError, prefix: tuple = ()) -> list[dict[str, str]]:
    """pydantic's errors as (JSON pointer, message) pairs, without echoing huge inputs."""
    return [
        {"field": pointer(prefix + tuple(e["loc"])), "detail": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ]


@dataclass
class Call:
    """What a handler gets: the request, its path parameters and its validated inputs."""

    request: Request
    params: dict[str, Any]
    settings: ServiceSettings
    caller: str
    body: Any = None
    """The validated body."""
    document: Any = None
    """The body as parsed JSON, before validation."""
    query: Any = None


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[Call], Response]
    summary: str
    body: Any = None
    """A pydantic model (or type) the JSON body must match."""
    query: type[BaseModel] | None = None
    responses: dict[int, Any] = field(default_factory=dict)
    """Status code → pydantic model (None: no body)."""
    write: bool = False
    """Needs a write key. Reads need one only when DIAMONDS_READ_REQUIRES_KEY is set."""
    public: bool = False
    """Never needs a key (health, the API document)."""
    tag: str = "diamonds"


class Router:
    """Dispatches requests to routes; every failure becomes a problem response."""

    def __init__(self, routes: list[Route], settings: Callable[[], ServiceSettings]) -> None:
        self.routes = routes
        self.settings = settings
        self._map = Map(
            [Rule(r.path, methods=[r.method], endpoint=i) for i, r in enumerate(routes)],
            strict_slashes=False,
        )
        self._body_adapters: dict[int, TypeAdapter] = {}

    def _body_adapter(self, index: int) -> TypeAdapter:
        """Built on first use: a function instance only pays for the routes it serves."""
        if index not in self._body_adapters:
            self._body_adapters[index] = TypeAdapter(self.routes[index].body)
        return self._body_adapters[index]

    def __call__(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except Problem as problem:
            return problem.response()
        except Exception:
            log.exception("unexpected failure on %s %s", request.method, request.path)
            return Problem(
                500, "Internal error", "the server failed; nothing was changed"
            ).response()

    def _dispatch(self, request: Request) -> Response:
        adapter = self._map.bind("", path_info=request.path)
        try:
            index, params = adapter.match(method=request.method)
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            raise Problem(
                405,
                "Method not allowed",
                f"{request.method} {request.path} — allowed: {allowed}",
                headers={"Allow": allowed},
            ) from None
        except NotFound:
            raise Problem(404, "Not found", f"no such resource: {request.path}") from None
        route = self.routes[index]
        settings = self.settings()
        caller = authorize(request, settings, write=route.write, public=route.public)
        call = Call(request, params, settings, caller)
        if route.query is not None:
            call.query = parse_query(request, route.query)
        if route.body is not None:
            call.document = read_json(request, settings.max_body_bytes)
            call.body = validate(self._body_adapter(index), call.document)
        return route.handler(call)


def parse_query(request: Request, model: type[BaseModel]) -> BaseModel:
    args = request.args
    known = set(model.model_fields)
    unknown = sorted(set(args) - known)
    if unknown:
        raise invalid([{"field": name, "detail": "unknown query parameter"} for name in unknown])
    lists = {n for n, f in model.model_fields.items() if "list[" in str(f.annotation)}
    values: dict[str, Any] = {}
    for name in args:
        many = args.getlist(name)
        if name in lists:
            values[name] = [part for value in many for part in value.split(",")]
        elif len(many) > 1:
            raise invalid([{"field": name, "detail": "given more than once"}])
        else:
            values[name] = many[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid(
            [
                {"field": str(e["loc"][0]) if e["loc"] else "", "detail": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
        ) from None


def read_json(request: Request, limit: int) -> Any:
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, "Body too large", f"the body may hold at most {limit:,} bytes")
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise Problem(415, "Unsupported media type", f"send application/json, not {mimetype}")
    data = request.get_data(cache=False)
    if len(data) > limit:
        raise Problem(413, "Body too large", f"the body may hold at most {limit:,} bytes")
    if not data.strip():
        raise Problem(400, "Empty body", "the request needs a JSON body")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "Bad encoding", f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "Malformed JSON", f"the body is not valid JSON: {exc}") from None


def validate(adapter: TypeAdapter, document: Any) -> Any:
    try:
        return adapter.validate_python(document)
    except ValidationError as exc:
        raise invalid(validation_errors(exc)) from None


def authorize(request: Request, settings: ServiceSettings, *, write: bool, public: bool) -> str:
    """The caller's key fingerprint (or "anonymous"); raises 401 when a needed key is missing
    or wrong. Every configured key is compared, in constant time."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if public or (not write and not settings.read_requires_key and not presented):
        return "anonymous"
    challenge = {"WWW-Authenticate": 'Bearer realm="diamonds"'}
    if scheme.lower() != "bearer" or not presented:
        raise Problem(
            401,
            "Unauthorized",
            "this needs an Authorization: Bearer <key> header",
            headers=challenge,
        )
    matched = False
    for key in settings.keys(write=write):
        matched |= hmac.compare_digest(key.encode(), presented.encode())
    if not matched:
        detail = "the bearer key is not valid" + (" for writing" if write else "")
        raise Problem(401, "Unauthorized", detail, headers=challenge)
    return "key:" + hashlib.sha256(presented.encode()).hexdigest()[:12]


def json_response(
    document: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if isinstance(document, BaseModel):
        payload = document.model_dump_json(exclude_none=True).encode()
    else:
        payload = orjson.dumps(document)
    return Response(payload, status, headers=headers, content_type="application/json")
