"""This API's own promises, as schemathesis checks beside its built-in ones: the fuzzing tests
load them, and so does a longer campaign run by hand with the schemathesis command
(`SCHEMATHESIS_HOOKS=tests.api_checks schemathesis --config-file tests/schemathesis.toml run
URL/v1/openapi.json`).

- a request valid under the document is accepted, or refused only by a rule the document
  states (a 422 of type IMPLAUSIBLE, the domain rule, or KEY_REUSED, an Idempotency-Key sent
  before with another request): schemathesis' own positive-data check is told that 422 may
  answer valid data, and this check allows no other 422;
- a request valid under the document is too large (413) only by the stated bound on comparable
  stones;
- every field of every JSON response is described by the document (no undocumented field);
- each `errors[].field` of a 422 is a JSON pointer into the request as sent, one per problem.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import schemathesis
from jsonschema import Draft202012Validator
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

IMPLAUSIBLE = "/v1/docs#implausible-stone"
KEY_REUSED = "/v1/docs#idempotency-key-reused"


def _content_type(response) -> str:
    return response.headers.get("content-type", [""])[0].split(";")[0].strip()


def _problem(response) -> dict | None:
    if _content_type(response) != "application/problem+json":
        return None
    return json.loads(response.content)


def _operation(case) -> dict:
    """The operation in the document ({} for a method it does not have)."""
    document = case.operation.schema.raw_schema
    return document["paths"][case.operation.path].get(case.method.lower(), {})


@schemathesis.check
def refused_only_by_the_domain_rule(ctx, response, case) -> bool | None:
    """A request valid under the document is never refused but by the domain rule."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    if is_unexpected_http_status_case(case):
        return None
    problem = _problem(response) or {}
    if problem.get("type") not in (IMPLAUSIBLE, KEY_REUSED):
        raise AssertionError(
            "a request valid under the document was refused by a rule the document does not "
            f"state: {problem.get('detail')}"
        )
    return None


@schemathesis.check
def too_large_only_by_the_stated_bound(ctx, response, case) -> bool | None:
    """A request valid under the document is too large (413) only by the bound the document
    states on comparable stones (stones × comparables)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 413:
        return None
    fields = [e["field"] for e in (_problem(response) or {}).get("errors", [])]
    if fields != ["/query/comparables"]:
        raise AssertionError(f"a request valid under the document was too large: {fields}")
    return None


@schemathesis.check
def error_pointers_point_into_the_request(ctx, response, case) -> bool | None:
    """Each error of a 422 points at one input the request carried (or lacked)."""
    if response.status_code != 422:
        return None
    problem = _problem(response)
    if problem is None:
        raise AssertionError("a 422 that is not a problem document")
    fields = [error["field"] for error in problem.get("errors", [])]
    if not fields:
        raise AssertionError(f"a 422 that names no field: {problem.get('detail')}")
    if len(fields) != len(set(fields)):
        raise AssertionError(f"the same input named twice: {fields}")
    for field in fields:
        where = _resolve(field, case)
        if where is not None:
            raise AssertionError(
                f"errors[].field {field!r} does not point into the request: {where}"
            )
    return None


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _resolve(pointer: str, case) -> str | None:
    """Why `pointer` does not point into what `case` sent (None: it does)."""
    if pointer == "":
        return None
    if not pointer.startswith("/"):
        return "not a JSON pointer"
    tokens = _tokens(pointer)
    if tokens[0] == "query" and len(tokens) >= 2:
        declared = {p["name"] for p in _operation(case).get("parameters", [])}
        return (
            None
            if tokens[1] in (case.query or {}) or tokens[1] in declared
            else "no such parameter"
        )
    if tokens[0] == "header" and len(tokens) == 2:
        sent = {name.lower() for name in (case.headers or {})}
        return None if tokens[1].lower() in sent else "no such header"
    if tokens[0] == "path" and len(tokens) == 2:
        return None if tokens[1] in (case.path_parameters or {}) else "no such path parameter"
    node: Any = case.body
    for token in tokens[:-1]:
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return f"nothing at {token!r}"
    last = tokens[-1]
    if isinstance(node, list):
        return None if last.isdigit() and int(last) < len(node) else "past the list"
    return None if isinstance(node, dict) else "inside a value that holds no fields"


@schemathesis.check
def every_field_documented(ctx, response, case) -> bool | None:
    """Every field of a JSON response is described by the document (objects that list their
    properties hold no other)."""
    content_type = _content_type(response)
    if not content_type.endswith("json") or not response.content:
        return None
    document = case.operation.schema.raw_schema
    declared = _operation(case).get("responses", {}).get(str(response.status_code))
    if declared is None or content_type not in declared.get("content", {}):
        return None
    schema = declared["content"][content_type]["schema"]
    validator = _strict_validator(id(document), json.dumps(schema), _frozen(document))
    undocumented = [
        f"{'/'.join(map(str, error.absolute_path)) or '(the body)'}: {error.message}"
        for error in validator.iter_errors(json.loads(response.content))
        if error.validator in ("additionalProperties", "unevaluatedProperties")
    ]
    if undocumented:
        raise AssertionError("fields the document does not describe: " + "; ".join(undocumented))
    return None


class _frozen:
    """A document handed to a cached function: hashed by identity."""

    def __init__(self, document: dict) -> None:
        self.document = document

    def __hash__(self) -> int:
        return id(self.document)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _frozen) and other.document is self.document


@cache
def _strict_validator(key: int, schema: str, document: _frozen) -> Draft202012Validator:
    components = _strict(copy.deepcopy(document.document.get("components", {})))
    return Draft202012Validator({**_strict(json.loads(schema)), "components": components})


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)
    return node
