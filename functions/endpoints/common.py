"""What every HTTP function serves: health, the API document and its page."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from werkzeug.wrappers import Response

from functions.http.responses import json_response
from functions.http.router import Call, Route


def common_routes(
    all_routes: Callable[[], list[Route]], usage: Callable[[], dict[str, object]] = dict
) -> list[Route]:
    """Health, the API document and its page. The document is made once per instance, on its
    first request for it, from every function's routes (`all_routes`: declaring them imports
    what each function needs, such as the database layer, which a function's first price
    need not wait for), and served as the same bytes ever after. Health says how the counting
    of usage goes (`usage`): a failing count is seen there, never as a failed request."""

    @cache
    def spec() -> bytes:
        from functions.openapi import document, serialise

        return serialise(document(all_routes()))

    @cache
    def page() -> bytes:
        import orjson

        from functions.openapi import docs_page

        return docs_page(orjson.loads(spec())).encode()

    def health(call: Call) -> Response:
        return json_response({"status": "ok", "usage": usage()})

    def openapi(call: Call) -> Response:
        return Response(spec(), content_type="application/json")

    def docs(call: Call) -> Response:
        return Response(page(), content_type="text/html; charset=utf-8")

    return [
        Route(
            "GET",
            "/healthz",
            health,
            "Liveness",
            responses={200: dict},
            public=True,
            tag="service",
        ),
        Route(
            "GET",
            "/v1/openapi.json",
            openapi,
            "This API's OpenAPI 3.1 document",
            responses={200: dict},
            public=True,
            tag="service",
        ),
        Route(
            "GET",
            "/v1/docs",
            docs,
            "This API's documentation page",
            responses={200: "text/html"},
            public=True,
            tag="service",
        ),
    ]
