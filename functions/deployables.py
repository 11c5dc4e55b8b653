"""The deployables: each Cloud Function target, its kind, the paths the front door sends it and
its routes. `main.py`'s targets, the local gateway of `diamonds serve` and each function's own
dispatch come from this table; the tests hold infra/'s URL map to it.

Each HTTP function is a Router over its own routes plus the common ones (health, the API
document, the docs page)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Literal

from flask import Request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from functions.endpoints.common import common_routes
from functions.endpoints.pricing import express_pricing, quick_pricing
from functions.http.asgi import AsgiHandler, Express, asgi_handler
from functions.http.problems import HttpProblem
from functions.http.router import Route, Router
from functions.instance import Instance
from functions.web import web_routes


@dataclass(frozen=True)
class Deployable:
    target: str
    """The functions-framework target in main.py, and the deployed function's entry point."""
    kind: Literal["http", "cloudevent"]
    prefixes: tuple[str, ...] = ()
    """The paths it serves: each prefix, and every path below it."""
    routes: tuple[str, ...] = ()
    """What makes its routes, as `module:function` of functions.endpoints, imported when the
    routes are first made: an instance loads only its own endpoints and their payloads."""
    asynchronous: bool = False
    """Runs on functions-framework's async (ASGI) mode (functions/http/asgi.py)."""
    quick: Callable[[Instance], Callable[[Request], bool]] | None = None
    """Of an asynchronous function: which requests need only the CPU, briefly, and are served
    on the event loop; the others go to the thread pool."""
    express: Callable[[Instance], Express] | None = None
    """Of an asynchronous function: the lane answering its commonest request without the
    router (functions/http/asgi.py)."""


DEPLOYABLES = {
    d.target: d
    for d in (
        Deployable("inventory", "http", ("/v1/diamonds",), ("inventory:inventory_routes",)),
        Deployable(
            "pricing",
            "http",
            ("/v1/price",),
            ("pricing:pricing_routes",),
            asynchronous=True,
            quick=quick_pricing,
            express=express_pricing,
        ),
        Deployable(
            "models",
            "http",
            (
                "/v1/models",
                "/v1/runs",
                "/v1/ingestions",
                "/v1/monitoring",
                "/v1/partners",
                "/v1/usage",
            ),
            (
                "models:models_routes",
                "monitoring:monitoring_routes",
                "partners:partner_routes",
            ),
        ),
        Deployable("retrain", "http", ("/v1/retrain",), ("retrain:retrain_routes",)),
        Deployable("ingest", "cloudevent"),
    )
}
HTTP_TARGETS = tuple(t for t, d in DEPLOYABLES.items() if d.kind == "http")
ASYNC_THREADS = 8
"""An asynchronous function's requests that may use the database or the storage, at once: as
many as a synchronous function's threads, so its share of the connection budget is the same."""
DEFAULT_TARGET = "pricing"
"""Serves /healthz, /v1/openapi.json, /v1/docs, the pricing desk (/) and the 404s, as in GCP."""


def target_for(path: str) -> str:
    """The function that serves `path`, as the front door routes it."""
    for deployable in DEPLOYABLES.values():
        for prefix in deployable.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return deployable.target
    return DEFAULT_TARGET


def routes_of(instance: Instance, target: str) -> list[Route]:
    """A function's own routes (none for a CloudEvent function)."""
    routes = []
    for maker in DEPLOYABLES[target].routes:
        module, function = maker.split(":")
        routes += getattr(import_module(f"functions.endpoints.{module}"), function)(instance)
    return routes


def all_routes(instance: Instance) -> list[Route]:
    return [route for target in HTTP_TARGETS for route in routes_of(instance, target)]


def http_function(instance: Instance, name: str) -> Callable[[Request], Response]:
    """The request handler of one function target; its router is built on the first request."""
    routers: list[Router] = []

    def handle(request: Request) -> Response:
        if not routers:
            own = routes_of(instance, name) + common_routes(
                lambda: all_routes(instance), lambda: instance.access.health()
            )
            if name == DEFAULT_TARGET:  # the function behind every path the API does not claim
                own += web_routes()
            routers.append(
                Router(
                    own,
                    lambda: instance.settings,
                    lambda: instance.idempotent_requests,
                    lambda: instance.access,
                )
            )
        return routers[0](request)

    handle.__name__ = handle.__qualname__ = name
    return handle


def asgi_function(instance: Instance, name: str) -> AsgiHandler:
    """The handler of an asynchronous target: the same router, on the event loop or in the
    thread pool as its deployable's `quick` decides."""
    quick, express = DEPLOYABLES[name].quick, DEPLOYABLES[name].express
    handle = asgi_handler(
        http_function(instance, name),
        lambda: instance.settings.max_body_bytes,
        express(instance) if express else lambda scope, body: None,
        quick(instance) if quick else lambda request: False,
        ASYNC_THREADS,
        instance.stopping,
    )
    handle.__name__ = handle.__qualname__ = name
    return handle


def framework_error(error: HTTPException) -> Response:
    """A request the framework itself refuses (a path no function route can match, such as one
    with a newline in it) still gets a problem document, not an HTML page."""
    return HttpProblem(error.code or 400, error.name, error.description or error.name).response()
