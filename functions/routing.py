"""Routing, request parsing, auth and RFC 9457 errors, shared by every HTTP function.

Each function declares its routes as data (`Route`); the same declarations produce the OpenAPI
document, so what is documented is what is validated.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from functions.payloads import IMPLAUSIBLE
from functions.settings import ServiceSettings

log = logging.getLogger("diamonds.api")
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


def invalid(
    errors: list[dict[str, str]], title: str = "Invalid input", type: str | None = None
) -> HttpProblem:
    detail = "; ".join(f"{e['field'] or 'body'}: {e['detail']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return HttpProblem(422, title, detail, errors, type=type)


def refuse_implausible(
    problems: list[list[tuple[str, str]]], single: bool, prefix: tuple = ()
) -> None:
    """A 422 for stones with (field, message) problems under the domain rule, with one error
    per offending input, pointing into the request: `/carat` for one stone (`/query/carat` with
    the prefix `("query",)`), `/3/carat` for the fourth of a list. Nothing if there are none."""
    messages: dict[str, list[str]] = {}
    for i, found in enumerate(problems):
        for name, message in found:
            where = prefix + ((name,) if single else (i, name))
            messages.setdefault(pointer(where), []).append(message)
    if messages:
        errors = [{"field": at, "detail": "; ".join(m)} for at, m in messages.items()]
        title = "Implausible stone" if single else "Implausible stones"
        raise invalid(errors, title, IMPLAUSIBLE)


def pointer(location: tuple) -> str:
    """An RFC 6901 JSON pointer: `("query", "limit")` → `/query/limit`; `()` → `` (the whole)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def validation_errors(error: ValidationError, prefix: tuple = ()) -> list[dict[str, str]]:
    """pydantic's errors as (JSON pointer, message) pairs, without echoing huge inputs."""
    return [
        {"field": pointer(prefix + tuple(e["loc"])), "detail": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ]


def timed() -> Callable[[], float]:
    """A stopwatch: call the result for the milliseconds since."""
    started = time.perf_counter()
    return lambda: round((time.perf_counter() - started) * 1000, 3)


@dataclass
class Call:
    """What a handler gets: the request, its path parameters and its validated inputs."""

    request: Request
    params: dict[str, Any]
    settings: ServiceSettings
    caller: str = ""
    """The key's fingerprint or "anonymous"; empty until the caller is authorised."""
    body: Any = None
    """The validated body: a model, or a list of them on a bulk route."""
    document: Any = None
    """The body as parsed JSON, before validation."""
    query: Any = None
    journal: dict[str, Any] = field(default_factory=dict)
    """What the handler adds to the route's journal entry (model_version, response, ...)."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[Call], Response]
    summary: str
    body: type[BaseModel] | None = None
    """The pydantic model the JSON body must match."""
    bulk: int = 0
    """If set, the body may also be a list of 1 to `bulk` of `body` (413 beyond)."""
    query: type[BaseModel] | None = None
    params: type[BaseModel] | None = None
    """The path parameters' model: a value it refuses is a 422 naming `/path/<name>`."""
    responses: dict[int, Any] = field(default_factory=dict)
    """Status code → what the response holds: a pydantic model or type, a media type (str) for
    a non-JSON body, None for no body. Problem responses are documented from the route."""
    links: dict[int, dict[str, dict]] = field(default_factory=dict)
    """Status code → OpenAPI links from that response to other operations."""
    refuses: str = ""
    """The domain rule this operation applies, if any: documented on its 422 response."""
    write: bool = False
    """Needs a write key. Reads need one only when DIAMONDS_READ_REQUIRES_KEY is set."""
    public: bool = False
    """Never needs a key (health, the API document)."""
    tag: str = "diamonds"
    journal: Callable[[dict[str, Any]], None] | None = None
    """Receives one entry per request to the route, refused ones included: status, latency,
    caller, the request and what was answered (the prediction log)."""

    def statuses(self) -> dict[int, Any]:
        """Every status this route answers with: its own and the problems its inputs allow."""
        problems = {} if self.public else {401: None}
        if self.body is not None:
            problems.update({400: None, 413: None, 415: None, 422: None})
        if self.query is not None or self.params is not None:
            problems[422] = None
        return dict(sorted({**problems, **self.responses}.items()))


class Router:
    """Dispatches requests to routes; every failure becomes a problem response."""

    def __init__(self, routes: list[Route], settings: Callable[[], ServiceSettings]) -> None:
        self.routes = routes
        self.settings = settings
        self._map = Map(
            [Rule(r.path, methods=[r.method], endpoint=i) for i, r in enumerate(routes)],
            strict_slashes=False,
        )
        self._body_adapters: dict[tuple[int, bool], TypeAdapter] = {}
        self._fixed: dict[tuple[str, str], int] = {}
        """(method, path) → route for the paths without parameters, found without the Map."""
        for index, route in enumerate(routes):
            if "<" not in route.path:
                self._fixed.setdefault((route.method, route.path), index)

    def _body_adapter(self, index: int, many: bool) -> TypeAdapter:
        """Built on first use: a function instance only pays for the routes it serves."""
        key = (index, many)
        if key not in self._body_adapters:
            model = self.routes[index].body
            self._body_adapters[key] = TypeAdapter(list[model] if many else model)  # type: ignore[valid-type]
        return self._body_adapters[key]

    def __call__(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except HttpProblem as problem:
            return problem.response()
        except Exception:
            log.exception("unexpected failure on %s %s", request.method, request.path)
            return _failure().response()

    def _dispatch(self, request: Request) -> Response:
        index, params = self._fixed.get((request.method, request.path)), {}
        if index is None:
            index, params = self._match(request)
        call = Call(request, params, self.settings())
        if self.routes[index].journal is None:
            return self._serve(index, call)
        return self._journaled(index, call)

    def _match(self, request: Request) -> tuple[int, dict[str, Any]]:
        adapter = self._map.bind("", path_info=request.path)
        try:
            return adapter.match(method=request.method)
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            raise HttpProblem(
                405,
                "Method not allowed",
                f"{request.method} {request.path} — allowed: {allowed}",
                headers={"Allow": allowed},
            ) from None
        except NotFound:
            raise HttpProblem(404, "Not found", f"no such resource: {request.path}") from None

    def _serve(self, index: int, call: Call) -> Response:
        route = self.routes[index]
        call.caller = authorize(call.request, call.settings, write=route.write, public=route.public)
        if route.params is not None:
            call.params = parse_params(call.params, route.params).model_dump()
        if route.query is not None:
            call.query = parse_query(call.request, route.query)
        if route.body is not None:
            call.document = read_json(call.request, call.settings.max_body_bytes)
            call.body = self._validate_body(index, call.document)
        return route.handler(call)

    def _validate_body(self, index: int, document: Any) -> Any:
        limit = self.routes[index].bulk
        if limit and isinstance(document, list):
            if not document:
                raise invalid([{"field": "", "detail": "the list is empty"}], "Nothing to do")
            if len(document) > limit:
                raise HttpProblem(
                    413,
                    "Too many items",
                    f"{len(document):,} in the list; at most {limit:,} per request",
                )
            return validate(self._body_adapter(index, many=True), document)
        if limit and not isinstance(document, dict):
            raise invalid([{"field": "", "detail": "send an object, or a list of objects"}])
        return validate(self._body_adapter(index, many=False), document)

    def _journaled(self, index: int, call: Call) -> Response:
        """Serve the request and hand the route's journal an entry for it, whatever happens."""
        elapsed = timed()
        answer: Response | HttpProblem | None = None
        try:
            answer = self._serve(index, call)
            return answer
        except HttpProblem as problem:
            answer = problem
            raise
        finally:
            self._record(index, call, answer, elapsed())

    def _record(
        self, index: int, call: Call, answer: Response | HttpProblem | None, latency: float
    ) -> None:
        """`answer` is None when the handler failed: the client gets `_failure()`."""
        try:
            if answer is None:
                answer = _failure()
            request = call.request
            document = call.document
            entry = {
                "caller": call.caller or "unauthorized",
                "n_stones": _stones(document),
                "request": {
                    "path": request.path,
                    "query": request.query_string.decode("latin-1")[:2000],
                    "body": document,
                },
                "status": answer.status if isinstance(answer, HttpProblem) else answer.status_code,
                "latency_ms": latency,
                "model_version": None,
                "response": answer.document() if isinstance(answer, HttpProblem) else None,
                **call.journal,
            }
            self.routes[index].journal(entry)  # type: ignore[misc]
        except Exception:
            log.exception("could not journal %s %s", call.request.method, call.request.path)


def _stones(document: Any) -> int | None:
    if isinstance(document, list):
        return len(document)
    return 1 if isinstance(document, dict) else None


def _failure() -> HttpProblem:
    return HttpProblem(500, "Internal error", "the server failed; nothing was changed")


def parse_params(params: dict[str, Any], model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise invalid(validation_errors(exc, ("path",))) from None


def parse_query(request: Request, model: type[BaseModel]) -> BaseModel:
    if request.query_string:
        values = _query_values(request, model)
    elif (defaults := _defaults(model)) is not None:
        return defaults
    else:
        values = {}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid(validation_errors(exc, ("query",))) from None


def _query_values(request: Request, model: type[BaseModel]) -> dict[str, Any]:
    """The query's parameters by name: a list field's values split at commas, any other given
    once; an unknown or repeated parameter is a 422."""
    args = request.args
    unknown = sorted(set(args) - set(model.model_fields))
    if unknown:
        raise invalid(
            [
                {"field": pointer(("query", name)), "detail": "unknown query parameter"}
                for name in unknown
            ]
        )
    lists = _list_fields(model)
    values: dict[str, Any] = {}
    for name in args:
        many = args.getlist(name)
        if name in lists:
            values[name] = [part for value in many for part in value.split(",")]
        elif len(many) > 1:
            raise invalid([{"field": pointer(("query", name)), "detail": "given more than once"}])
        else:
            values[name] = many[0]
    return values


@cache
def _defaults(model: type[BaseModel]) -> BaseModel | None:
    """The query of a request that sends none, validated once and shared by every such request
    (handlers read their query, never change it); None if the model requires a parameter."""
    try:
        return model.model_validate({})
    except ValidationError:
        return None


@cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(n for n, f in model.model_fields.items() if "list[" in str(f.annotation))


def read_json(request: Request, limit: int) -> Any:
    """The body's JSON. The body stays cached on the request: functions-framework reads it
    again after every request."""
    length = request.content_length
    if length is not None and length > limit:
        raise HttpProblem(413, "Body too large", f"the body may hold at most {limit:,} bytes")
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise HttpProblem(415, "Unsupported media type", f"send application/json, not {mimetype}")
    data = request.get_data()
    if len(data) > limit:
        raise HttpProblem(413, "Body too large", f"the body may hold at most {limit:,} bytes")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _unreadable(data, exc) from None


def _unreadable(data: bytes, error: orjson.JSONDecodeError) -> HttpProblem:
    """Why a body is not JSON, the first fault a client would fix first. Looked for only once
    parsing failed: a readable body is not read twice."""
    if not data.strip():
        return HttpProblem(400, "Empty body", "the request needs a JSON body")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return HttpProblem(400, "Bad encoding", f"the body is not UTF-8 (byte {exc.start})")
    return HttpProblem(400, "Malformed JSON", f"the body is not valid JSON: {error}")


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
        raise HttpProblem(
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
        raise HttpProblem(401, "Unauthorized", detail, headers=challenge)
    return "key:" + hashlib.sha256(presented.encode()).hexdigest()[:12]


def json_response(
    document: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if isinstance(document, BaseModel):
        payload = document.model_dump_json(exclude_none=True).encode()
    else:
        payload = orjson.dumps(document)
    return Response(payload, status, headers=headers, content_type="application/json")
