"""Routes as data and the router that serves them.

Each function declares its routes (`Route`); the same declarations produce the OpenAPI
document, so what is documented is what is validated. The router authorises the caller,
negotiates the answer's media type, validates the path, query and body, runs the handler
(once per Idempotency-Key on POST routes), journals what the route journals and compresses
large answers. Every failure becomes a problem document; nothing else reaches the client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from functions.http import idempotency, journal
from functions.http.access import Access
from functions.http.bodies import read_json
from functions.http.keys import NOBODY, PRICE, READ, WRITE, Principal
from functions.http.parameters import known_query, parse_params, parse_query
from functions.http.problems import (
    HttpProblem,
    Unavailable,
    failure,
    invalid,
    unavailable,
    validation_errors,
)
from functions.http.responses import JSON, acceptable, compressed
from functions.settings import ServiceSettings

log = logging.getLogger("diamonds.api")
MAX_TARGET = 16_384
"""The longest path and query string served; longer is a 414."""


@dataclass
class Call:
    """What a handler gets: the request, its path parameters and its validated inputs."""

    request: Request
    params: dict[str, Any]
    settings: ServiceSettings
    principal: Principal | None = None
    """Who is calling; None until the caller is authorised."""
    headers: dict[str, str] = field(default_factory=dict)
    """Headers every answer gets, refusals included (the partner's RateLimit)."""
    body: Any = None
    """The validated body: a model, or a list of them on a bulk route."""
    document: Any = None
    """The body as parsed JSON, before validation."""
    query: Any = None
    journal: dict[str, Any] = field(default_factory=dict)
    """What the handler adds to the route's journal entry (model_version, response, ...)."""

    @property
    def caller(self) -> str:
        """The key id, "anonymous", or empty until the caller is authorised."""
        return self.principal.key_id if self.principal is not None else ""

    @property
    def anonymous(self) -> bool:
        return self.principal is NOBODY


def label(method: str, path: str) -> str:
    """How usage names a route: `POST /v1/price`."""
    return f"{method} {path}"


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
    """Needs a key with the `write` scope. Reads and pricing need a key only when
    DIAMONDS_READ_REQUIRES_KEY is set."""
    scope: str = ""
    """The scope a key needs, when not `write` (for a write) or `read`: `price`, `admin`."""
    keyed: bool = False
    """Needs a key even where reads do not (the partners' routes)."""
    public: bool = False
    """Never needs a key (health, the API document)."""
    tag: str = "diamonds"
    journal: Callable[[dict[str, Any]], None] | None = None
    """Receives one entry per request to the route, refused ones included: status, latency,
    caller, the request and what was answered (the prediction log)."""
    conditional: bool = False
    """The resource has an ETag: a GET honours If-None-Match, a change honours If-Match."""
    produces: tuple[str, ...] | None = (JSON,)
    """The media types it answers with (a 406 if Accept allows none); None: not negotiated."""

    @property
    def needs(self) -> str:
        return self.scope or (WRITE if self.write else READ)

    @property
    def label(self) -> str:
        return label(self.method, self.path)

    @property
    def idempotent(self) -> bool:
        """Takes an Idempotency-Key: every POST route."""
        return self.method == "POST"

    def statuses(self) -> dict[int, Any]:
        """Every status this route answers with: its own and the problems its inputs allow."""
        problems = {} if self.public else {401: None, 403: None, 429: None}
        if self.produces is not None:
            problems[406] = None
        if self.body is not None:
            problems.update({400: None, 413: None, 415: None, 422: None})
        if self.query is not None or self.params is not None:
            problems[422] = None
        if self.idempotent:
            problems.update({409: None, 422: None})
        if self.conditional:
            problems.update({304: None} if self.method == "GET" else {412: None})
        return dict(sorted({**problems, **self.responses}.items()))


class Router:
    """Dispatches requests to routes; every failure becomes a problem response.

    `answers` keeps first answers for Idempotency-Key (made on the first request that sends
    one: a function that never sees one never touches the database)."""

    def __init__(
        self,
        routes: list[Route],
        settings: Callable[[], ServiceSettings],
        answers: Callable[[], idempotency.Answers] | None = None,
        access: Callable[[], Access] | None = None,
    ) -> None:
        self.routes = routes
        self.settings = settings
        self.answers = answers
        self.access = access or _team_only
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
        started = time.perf_counter()
        try:
            index, call = self._route(request)
        except HttpProblem as problem:
            return problem.response()
        route = self.routes[index]
        answer = self._answer(index, call)
        answer.headers.update(call.headers)
        if call.principal is not None and call.principal.partner is not None:
            stones = call.journal.get("n_stones", 0) if route.needs == PRICE else 0
            latency = (time.perf_counter() - started) * 1000
            self.access().count(call.principal, route.label, answer.status_code, stones, latency)
        return answer

    def _answer(self, index: int, call: Call) -> Response:
        request = call.request
        try:
            if self.routes[index].journal is None:
                return compressed(request, self._serve(index, call))
            return compressed(request, self._journaled(index, call))
        except HttpProblem as problem:
            return problem.response()
        except Unavailable as exc:
            log.error("%s %s: %s", request.method, request.path, exc)
            return unavailable().response()
        except Exception:
            log.exception("unexpected failure on %s %s", request.method, request.path)
            return failure().response()

    def _route(self, request: Request) -> tuple[int, Call]:
        environ = request.environ
        if len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) > MAX_TARGET:
            raise HttpProblem(
                414, "URI too long", f"the path and query may hold at most {MAX_TARGET:,} bytes"
            )
        index, params = self._fixed.get((request.method, request.path)), {}
        if index is None:
            index, params = self._match(request)
        return index, Call(request, params, self.settings())

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
        route, request, settings = self.routes[index], call.request, call.settings
        access = self.access()
        call.principal = access.identify(
            request,
            settings.bearer_keys(),
            public=route.public,
            key_required=route.write or route.keyed or settings.read_requires_key,
        )
        call.headers = access.admit(call.principal, route.needs)
        if route.produces is not None:
            acceptable(request, route.produces)
        if route.params is not None:
            call.params = parse_params(call.params, route.params).model_dump()
        if route.query is not None:
            call.query = parse_query(request, route.query)
        if route.body is not None:
            call.document = read_json(request, settings.max_body_bytes)
            call.body = self._validate_body(index, call.document)
        if route.needs == PRICE:
            access.limits.take_stones(call.principal, journal.stones(call.document) or 1)
        if route.idempotent and self.answers and idempotency.HEADER in request.headers:
            return idempotency.once(
                request, call.caller, self.answers(), lambda: route.handler(call)
            )
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
        started = time.perf_counter()
        answer: Response | HttpProblem | None = None
        try:
            answer = self._serve(index, call)
            return answer
        except HttpProblem as problem:
            answer = problem
            raise
        except Unavailable:
            answer = unavailable()
            raise
        finally:
            latency = round((time.perf_counter() - started) * 1000, 3)
            self._record(index, call, answer, latency)

    def _record(
        self, index: int, call: Call, answer: Response | HttpProblem | None, latency: float
    ) -> None:
        """`answer` is None when the handler failed: the client gets `failure()`."""
        route = self.routes[index]
        try:
            principal, request = call.principal, call.request
            found = journal.entry(
                request.path,
                known_query(request, route.query) if request.query_string else {},
                call.caller or "unauthorized",
                call.document,
                answer.status_code if isinstance(answer, Response) else answer or failure(),
                latency,
                route.body,
            )
            if principal is not None and principal.partner is not None:
                found.update(partner=principal.partner, key_id=principal.key_id)
            route.journal({**found, **call.journal})  # type: ignore[misc]
        except Exception:
            log.exception("could not journal %s %s", call.request.method, call.request.path)


def validate(adapter: TypeAdapter, document: Any) -> Any:
    try:
        return adapter.validate_python(document)
    except ValidationError as exc:
        raise invalid(validation_errors(exc)) from None


_TEAM_ONLY = Access()


def _team_only() -> Access:
    return _TEAM_ONLY
