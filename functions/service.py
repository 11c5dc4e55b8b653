"""Each HTTP function is a Router over its own routes plus the common ones (health, the API
document, the docs page); `diamonds serve` puts them all behind one address."""

from __future__ import annotations

from collections.abc import Callable

from flask import Request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from functions.instance import Instance
from functions.routes import (
    common_routes,
    inventory_routes,
    models_routes,
    pricing_routes,
    retrain_routes,
)
from functions.routing import Problem, Router
from functions.web import web_routes

FUNCTIONS = {
    "inventory": inventory_routes,
    "pricing": pricing_routes,
    "models": models_routes,
    "retrain": retrain_routes,
}


def all_routes(instance: Instance) -> list:
    return [route for make in FUNCTIONS.values() for route in make(instance)]


def http_function(instance: Instance, name: str) -> Callable[[Request], Response]:
    """The request handler of one function target; its router is built on the first request."""
    routers: list[Router] = []

    def handle(request: Request) -> Response:
        if not routers:
            own = FUNCTIONS[name](instance) + common_routes(all_routes(instance))
            if name == "pricing":  # the function behind every path the API does not claim
                own += web_routes()
            routers.append(Router(own, lambda: instance.settings))
        return routers[0](request)

    handle.__name__ = handle.__qualname__ = name
    return handle


def framework_error(error: HTTPException) -> Response:
    """A request the framework itself refuses (a path no function route can match, such as one
    with a newline in it) still gets a problem document, not an HTML page."""
    return Problem(error.code or 400, error.name, error.description or error.name).response()
