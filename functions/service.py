"""Each HTTP function is a Router over its own routes plus the common ones (health, the API
document, the docs page); `diamonds serve` puts them all behind one address."""

from __future__ import annotations

from collections.abc import Callable

from flask import Request
from werkzeug.wrappers import Response

from functions.api import Router
from functions.instance import Instance
from functions.routes import (
    common_routes,
    inventory_routes,
    models_routes,
    pricing_routes,
    retrain_routes,
)

FUNCTIONS = {
    "inventory": inventory_routes,
    "pricing": pricing_routes,
    "models": models_routes,
    "retrain": retrain_routes,
}


def all_routes(instance: Instance) -> list:
    return [route for make in FUNCTIONS.values() for route in make(instance)]


def http_function(instance: Instance, name: str) -> Callable[[Request], Response]:
    """The request handler of one function target."""
    everything = all_routes(instance)
    router = Router(
        FUNCTIONS[name](instance) + common_routes(everything), lambda: instance.settings
    )

    def handle(request: Request) -> Response:
        return router(request)

    handle.__name__ = handle.__qualname__ = name
    return handle
