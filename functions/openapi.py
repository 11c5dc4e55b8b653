"""The OpenAPI 3.1 document, generated from the routes and the pydantic models that validate
them, and a self-contained documentation page (no external scripts: it works offline)."""

from __future__ import annotations

import html
import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from functions.api import Route

TITLE = "Diamond pricing API"
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem }
pre { background: #f5f5f5; padding: .6rem; overflow-x: auto }
.m { background: #234; color: #fff; padding: 0 .4rem; border-radius: 3px }
section { border-top: 1px solid #ddd; margin-top: 1rem }
"""
EXAMPLE_STONE = {
    "carat": 1.01,
    "cut": "Ideal",
    "color": "E",
    "clarity": "VS1",
    "depth": 61.5,
    "table": 57,
    "x": 6.44,
    "y": 6.47,
    "z": 3.97,
}

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


def _path(rule: str) -> tuple[str, list[dict]]:
    """werkzeug's /a/<int:id> → OpenAPI's /a/{id}, with the parameter declared."""
    parameters = []
    for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule):
        kind = {"type": "integer", "minimum": 0} if converter == "int" else {"type": "string"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": kind})
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule), parameters


@cache
def _schema(kind: Any) -> dict:
    """Shared between calls: copy before changing it."""
    if kind is dict:
        return {"type": "object"}
    return TypeAdapter(kind).json_schema(ref_template="#/components/schemas/{model}")


def document(routes: list[Route]) -> dict:
    models = {
        m
        for r in routes
        for m in [r.body, *r.responses.values()]
        if isinstance(m, type) and issubclass(m, BaseModel)
    }
    _, definitions = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = definitions.get("$defs", {})
    paths: dict[str, dict] = {}
    for route in routes:
        path, parameters = _path(route.path)
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}".rstrip(
                "_"
            ),
            "tags": [route.tag],
            "responses": {},
        }
        if route.query is not None:
            for name, field in route.query.model_fields.items():
                schema = _schema(route.query).get("properties", {}).get(name, {})
                parameters.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": field.is_required(),
                        "description": field.description or "",
                        "schema": schema,
                    }
                )
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            body_schema = dict(_schema(route.body))
            schemas.update(body_schema.pop("$defs", {}))
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        for status, model in route.responses.items():
            if model is None:
                operation["responses"][str(status)] = {"description": "no content"}
                continue
            schema = dict(_schema(model))
            schemas.update(schema.pop("$defs", {}))
            media = "application/problem+json" if status >= 400 else "application/json"
            operation["responses"][str(status)] = {
                "description": "error" if status >= 400 else "success",
                "content": {media: {"schema": schema}},
            }
        if route.write or not route.public:
            operation["security"] = [{"bearer": []}] if route.write else [{}, {"bearer": []}]
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": "1",
            "description": (
                "Prices diamonds from their characteristics, with a 90% interval and the reasons. "
                "Errors are application/problem+json (RFC 9457) naming the offending field. "
                "Writes need an Authorization: Bearer <key> header."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


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
        for code, text in {
            400: "the body is not JSON, not UTF-8, or empty",
            401: "a bearer key is missing or wrong",
            404: "no such resource",
            405: "the method is not allowed on this path",
            409: "a conflict: nothing to train on, or a concurrent promotion",
            413: "the body or the list is too large",
            415: "the body is not application/json",
            422: "a field is invalid or the stone is implausible: see errors[].field",
            503: "no model has been trained yet",
        }.items()
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


def _curl(method: str, path: str, op: dict) -> str:
    """The operation as a shell command, using the variables SETUP describes."""
    url = "$API" + path.replace("{id}", "1").replace("{version}", "$VERSION").replace(
        "{run_id}", "$RUN_ID"
    )
    parts = ["curl -s"]
    if method != "get":
        parts.append(f"-X {method.upper()}")
    if op.get("security") == [{"bearer": []}]:
        parts.append('-H "Authorization: Bearer $KEY"')
    if "requestBody" in op:
        body = {"reason": "rollback"} if "promote" in path else EXAMPLE_STONE
        if path.endswith("retrain"):
            body = {"reason": "new appraisals"}
        parts.append(f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'")
    if path == "/v1/price" and method == "get":
        url += "?" + "&".join(f"{k}={v}" for k, v in EXAMPLE_STONE.items()).replace(" ", "%20")
    parts.append(f'"{url}"')
    return " ".join(parts)
