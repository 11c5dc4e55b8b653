"""The OpenAPI 3.1 document, generated from the routes and the pydantic models that validate
them, and a self-contained documentation page (no external scripts: it works offline).

Every schema a route names becomes a component (one `$defs` for all of them, so that every
`$ref` resolves), the problem document included: every error response refers to it by name.
"""

from __future__ import annotations

import html
import json
import re
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, Field, TypeAdapter

from functions.http.idempotency import KEY_REUSED
from functions.http.problems import PROBLEM_JSON
from functions.http.router import Route
from functions.payloads.problems import ProblemDetails
from functions.payloads.schema import IMPLAUSIBLE
from functions.payloads.stones import EXAMPLE_STONE

TITLE = "Diamond pricing API"
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem }
pre { background: #f5f5f5; padding: .6rem; overflow-x: auto }
.m { background: #234; color: #fff; padding: 0 .4rem; border-radius: 3px }
section { border-top: 1px solid #ddd; margin-top: 1rem }
"""
REF = "#/components/schemas/{model}"
DESCRIPTION = (
    "Prices diamonds from their characteristics, with a 90% interval and the reasons. "
    "Writes, usage and the partners' routes need an Authorization: Bearer <key> header: a "
    "partner's key (dmd_live_<id>_<secret>) holds scopes (price, read, write, admin), and a "
    "partner's plan limits its requests a minute (429 with Retry-After; RateLimit-Policy and "
    "RateLimit headers on every answer) and its stones a month. "
    "A body may be sent gzip-encoded (Content-Encoding: gzip); large answers are gzip-encoded "
    "for clients that accept it. Every POST takes an Idempotency-Key, and an inventory stone "
    "has an ETag for If-Match and If-None-Match. "
    "Errors are application/problem+json (RFC 9457): `errors[].field` is an RFC 6901 JSON "
    "pointer to each offending input: into the JSON body (`/cut` for a stone, `/1/price` for "
    "the second of a list, the empty pointer for the whole body), or to a parameter, "
    "`/query/<name>` or `/path/<name>` (`/query/limit`, `/path/id`); one entry per problem. "
    "A request valid under this document is accepted, or refused only by the domain rule that "
    f"its 422 response states (problem type `{IMPLAUSIBLE}`). "
    "Units: prices in 2008 US dollars, carat in ct, x, y, z in mm, depth and table in %, "
    "errors (MAPE) in %, interval coverage as a fraction (0.9 is 90%)."
)
PROBLEMS = {
    400: "the body is not JSON, not UTF-8, or empty",
    401: "a bearer key is missing, not valid, expired or revoked (the detail says which)",
    403: "the key does not hold the scope this needs: a read-only key on a write",
    404: "no such resource",
    406: "the Accept header allows no media type this operation answers with",
    409: "a conflict: nothing to train on, a concurrent promotion, or a request with the same "
    "Idempotency-Key still being served (retry after Retry-After)",
    412: "If-Match names a revision the resource no longer has: someone changed it since",
    413: "the body or the list is too large, or decompresses to more than the limit, or the "
    "request asks for more comparable stones than one request may (stones × comparables, at "
    "most 1,000)",
    414: "the path and query string are too long",
    415: "the body is not application/json, or is encoded otherwise than gzip",
    422: "an input is invalid: `errors[].field` points at each one",
    429: "too many requests: the partner's requests a minute are spent, or its stones of the "
    "month would be crossed (the detail says how many remain), or this address presented too "
    "many bad keys; retry after Retry-After",
    503: "unavailable: no model has been trained yet (retry after Retry-After), or training "
    "could not start",
}
HEADERS = {
    "Idempotency-Key": (
        "a key of the client's choosing (1 to 255 visible ASCII characters): the same key "
        "within 24 h gets the first answer again (with Idempotent-Replayed: true) instead of "
        "doing the work twice; with another request it is a 422"
    ),
    "If-Match": ("ETags (or *): change the resource only if it is still at one of them, else 412"),
    "If-None-Match": "ETags (or *): a 304 with no body if the resource is still at one of them",
}
ETAG_HEADER = {
    "description": "the resource's revision in quotes, for If-Match and If-None-Match",
    "schema": {"type": "string"},
}
PROBLEM_SCHEMA = {"$ref": REF.format(model=ProblemDetails.__name__)}

SETUP = (
    "Each endpoint below has a curl example for a POSIX shell, with API set to this service's "
    "address (this page's, without /v1/docs) and, for writes, KEY to a write key. VERSION (a "
    "model version) and RUN_ID (a training run) can be set as follows; python3 reads the JSON."
)
_READ = "python3 -c 'import json, sys; print(json.load(sys.stdin){})'"
SETUP_COMMANDS = "\n".join(
    f'{name}=$(curl -s "$API{path}" | {_READ.format(field)})'
    for name, path, field in (
        ("VERSION", "/v1/models", '["champion"]'),
        ("RUN_ID", "/v1/runs", '["runs"][-1]'),
    )
)


def _path(rule: str) -> str:
    """werkzeug's /a/<int:id> → OpenAPI's /a/{id}."""
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule)


def _body_type(route: Route) -> Any:
    if not route.bulk:
        return route.body
    many = Annotated[list[route.body], Field(min_length=1, max_length=route.bulk)]  # type: ignore[name-defined]
    return route.body | many


def _parameters(model: type[BaseModel], where: str) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF)
    assert "$defs" not in schema, f"{model.__name__}: parameters must be plain values"
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        parameter = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "description": prop.pop("description", ""),
            "schema": prop,
        }
        if prop.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def _headers(route: Route) -> list[str]:
    names = ["Idempotency-Key"] if route.idempotent else []
    if route.conditional:
        names.append("If-None-Match" if route.method == "GET" else "If-Match")
    return names


def _header(name: str) -> dict:
    schema: dict[str, Any] = {"type": "string"}
    if name == "Idempotency-Key":
        schema.update(minLength=1, maxLength=255, pattern="^[!-~]+$")
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": HEADERS[name],
        "schema": schema,
    }


def _content(media: str, schema: dict) -> dict:
    return {media: {"schema": schema}}


def document(routes: list[Route]) -> dict:
    inputs: list[tuple[Any, Any, TypeAdapter]] = [
        ("problem", "validation", TypeAdapter(ProblemDetails))
    ]
    for i, route in enumerate(routes):
        if route.body is not None:
            inputs.append(((i, "body"), "validation", TypeAdapter(_body_type(route))))
        for status, kind in route.responses.items():
            if kind is not None and not isinstance(kind, str):
                inputs.append(((i, status), "validation", TypeAdapter(kind)))
    named, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF)
    schemas = dict(sorted(definitions.get("$defs", {}).items()))
    paths: dict[str, dict] = {}
    for i, route in enumerate(routes):
        path = _path(route.path)
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}".rstrip(
                "_"
            ),
            "tags": [route.tag],
        }
        parameters = []
        if route.params is not None:
            parameters += _parameters(route.params, "path")
        if route.query is not None:
            parameters += _parameters(route.query, "query")
        parameters += [_header(name) for name in _headers(route)]
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": _content("application/json", named[((i, "body"), "validation")]),
            }
        operation["responses"] = {
            str(status): _response(route, i, status, kind, named)
            for status, kind in route.statuses().items()
        }
        if not route.public:
            keyed = route.write or route.keyed
            operation["security"] = [{"bearer": []}] if keyed else [{}, {"bearer": []}]
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": "1", "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _response(route: Route, index: int, status: int, kind: Any, named: dict) -> dict:
    if status >= 400:
        description = PROBLEMS[status]
        if status == 422 and route.refuses:
            description += f"; or, under the domain rule (type `{IMPLAUSIBLE}`), {route.refuses}"
        problem: dict[str, Any] = {
            "description": description,
            "content": _content(PROBLEM_JSON, PROBLEM_SCHEMA),
        }
        if status in (409, 429, 503):
            problem["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before asking again, when it is worth it",
                    "schema": {"type": "string"},
                }
            }
        return problem
    if status == 304:
        return {
            "description": "not modified: If-None-Match names its current revision",
            "headers": {"ETag": ETAG_HEADER},
        }
    response: dict[str, Any] = {"description": "no content" if kind is None else "success"}
    if isinstance(kind, str):
        response["content"] = _content(kind, {"type": "string"})
    elif kind is not None:
        response["content"] = _content("application/json", named[((index, status), "validation")])
    headers = {}
    if status in (201, 202):
        headers["Location"] = {
            "description": "where the new resource is (for one stone created, or a run)",
            "schema": {"type": "string"},
        }
    if route.conditional and kind is not None:
        headers["ETag"] = ETAG_HEADER
    if headers:
        response["headers"] = headers
    if status in route.links:
        response["links"] = route.links[status]
    return response


def serialise(spec: dict) -> bytes:
    """The document as the bytes served: the same for every request and every instance."""
    return orjson.dumps(spec)


def docs_page(spec: dict) -> str:
    """The API document as one readable HTML page with curl examples."""
    sections = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            params = "".join(
                f"<li><code>{html.escape(p['name'])}</code> ({p['in']}"
                f"{', required' if p.get('required') else ''}) "
                f"{html.escape(p.get('description', ''))}</li>"
                for p in op.get("parameters", [])
            )
            statuses = ", ".join(op["responses"])
            auth = " — needs a bearer key" if op.get("security") == [{"bearer": []}] else ""
            sections.append(
                f'<section id="{op["operationId"]}"><h3><span class="m">{method.upper()}</span> '
                f"<code>{html.escape(path)}</code></h3><p>{html.escape(op['summary'])}{auth}</p>"
                f"{'<ul>' + params + '</ul>' if params else ''}"
                f"<p>Responses: {statuses}</p>"
                f"<pre>{html.escape(_curl(method, path, op))}</pre></section>"
            )
    problems = "".join(
        f'<li id="problem-{code}"><code>{code}</code> {html.escape(text)}</li>'
        for code, text in sorted(
            {**PROBLEMS, 405: "the method is not allowed on this path"}.items()
        )
    )
    problems += (
        f'<li id="{IMPLAUSIBLE.partition("#")[2]}"><code>422</code> an implausible stone, '
        "refused by the domain rule: its measurements contradict each other, its price is no "
        "appraisal for its weight, or (pricing) it lies far outside what the serving model was "
        f'trained on</li><li id="{KEY_REUSED.partition("#")[2]}"><code>422</code> an '
        "Idempotency-Key sent before, within 24 h, with another request: a new request needs a "
        "new key</li>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>{STYLE}</style></head><body>
<h1>{TITLE}</h1><p>{html.escape(spec["info"]["description"])}</p>
<p>The machine-readable document: <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1).</p>
<h2 id="examples">Examples</h2><p>{html.escape(SETUP)}</p><pre>{html.escape(SETUP_COMMANDS)}</pre>
<h2>Endpoints</h2>{"".join(sections)}
<h2 id="problems">Errors</h2><ul>{problems}</ul></body></html>"""


EXAMPLE_PARTNER = {
    "name": "acme",
    "contact": "ops@acme.example",
    "requests_per_minute": 600,
    "stones_per_month": 500_000,
    "scopes": ["price"],
}
PARTNER_EXAMPLES = {
    "/v1/partners": EXAMPLE_PARTNER,
    "/v1/partners/{name}/keys": {"scopes": ["price"], "expires_in_days": 365},
    "/v1/partners/{name}/keys/{key_id}/rotate": {"grace_hours": 24},
}
_ID = _READ.format('["id"]')
_NEW_KEY_ID = (
    """$(curl -s -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' """
    f"""-d '{{}}' "$API/v1/partners/{EXAMPLE_PARTNER["name"]}/keys" | {_ID})"""
)
"""A key issued for the example: the id the rotation and revocation examples act on."""
_NEW_PARTNER = (
    """$(curl -s -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' """
    """-d '{"name": "acme-trial", "contact": "ops@acme.example"}' "$API/v1/partners" | """
    f"""{_READ.format('["name"]')})"""
)
"""A partner added for the example: the one the deletion example deletes."""


def _curl(method: str, path: str, op: dict) -> str:
    """The operation as a shell command, using the variables SETUP describes."""
    url = "$API" + path.replace("{id}", "1").replace("{version}", "$VERSION").replace(
        "{run_id}", "$RUN_ID"
    ).replace("{key_id}", _NEW_KEY_ID)
    deleted = method == "delete" and path.endswith("{name}")
    url = url.replace("{name}", _NEW_PARTNER if deleted else EXAMPLE_PARTNER["name"])
    parts = ["curl -s"]
    if method != "get":
        parts.append(f"-X {method.upper()}")
    if op.get("security") == [{"bearer": []}]:
        parts.append('-H "Authorization: Bearer $KEY"')
    if "requestBody" in op:
        body = {"reason": "rollback"} if "promote" in path else EXAMPLE_STONE
        if path.endswith("retrain"):
            body = {"reason": "new appraisals"}
        body = PARTNER_EXAMPLES.get(path, body)
        parts.append(f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'")
    if path == "/v1/price" and method == "get":
        url += "?" + "&".join(f"{k}={v}" for k, v in EXAMPLE_STONE.items()).replace(" ", "%20")
    parts.append(f'"{url}"')
    return " ".join(parts)
