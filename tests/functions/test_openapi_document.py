"""The OpenAPI document: made once, the same bytes on every request and from every function;
whole (every `$ref` resolves); a named problem schema behind every error; every limit the
server enforces on an input stated; the domain rule documented where it applies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from functions.deployables import HTTP_TARGETS, all_routes, http_function, routes_of
from functions.instance import Instance
from functions.openapi import document
from functions.payloads.schema import MAX_ID, MAX_STONES
from functions.settings import ServiceSettings

REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def spec() -> dict:
    return document(all_routes(Instance(ServiceSettings())))


def served(function: str, path: str = "/v1/openapi.json") -> bytes:
    handle = http_function(Instance(ServiceSettings()), function)
    request = Request(EnvironBuilder(path=path).get_environ())
    return b"".join(handle(request).response)


def walk(node, path: str = "") -> Iterator[tuple[str, object]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


def operations(spec: dict) -> Iterator[tuple[str, str, dict]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_document_is_whole_on_every_request() -> None:
    routes = all_routes(Instance(ServiceSettings()))
    first = document(routes)
    assert document(routes) == first
    named = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(first)))
    assert named <= set(first["components"]["schemas"])


def test_every_function_serves_the_same_bytes_every_time() -> None:
    first = served("pricing")
    assert json.loads(first)["openapi"] == "3.1.0"
    assert {served(name) for name in HTTP_TARGETS} == {first}
    handle = http_function(Instance(ServiceSettings()), "inventory")
    answers = {
        b"".join(handle(Request(EnvironBuilder(path="/v1/openapi.json").get_environ())).response)
        for _ in range(3)
    }
    assert answers == {first}


def test_every_ref_resolves(spec: dict) -> None:
    refs = [
        (where, node["$ref"])
        for where, node in walk(spec)
        if isinstance(node, dict) and "$ref" in node
    ]
    assert refs
    for where, ref in refs:
        assert ref.startswith(REF) and ref[len(REF) :] in spec["components"]["schemas"], where


def test_every_error_response_is_the_named_problem_document(spec: dict) -> None:
    problem = spec["components"]["schemas"]["ProblemDetails"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["errors"] == {
        "description": "one entry per offending input",
        "items": {"$ref": REF + "FieldError"},
        "title": "Errors",
        "type": "array",
    }
    field_error = spec["components"]["schemas"]["FieldError"]
    assert field_error["type"] == "object" and set(field_error["required"]) == {"field", "detail"}
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": REF + "ProblemDetails"}}
                }, (method, path, status)


def test_every_route_of_every_deployable_is_one_operation_with_its_statuses(spec: dict) -> None:
    instance = Instance(ServiceSettings())
    expected = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.path), route.method.lower()): route
        for target in HTTP_TARGETS
        for route in routes_of(instance, target)
    }
    assert len(expected) == len(all_routes(instance))
    documented = {(path, method): operation for path, method, operation in operations(spec)}
    assert set(documented) == set(expected)
    for (path, method), route in expected.items():
        statuses = {str(status) for status in route.statuses()}
        assert set(documented[path, method]["responses"]) == statuses, (method, path)
        assert documented[path, method]["summary"] == route.summary


def test_every_input_states_the_limits_the_server_enforces(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            for _, node in walk(parameter["schema"]):
                if isinstance(node, dict) and node.get("type") == "integer":
                    assert "minimum" in node and "maximum" in node, (method, path, parameter)
                    assert node["maximum"] <= MAX_ID
    ids = spec["paths"]["/v1/diamonds/{id}"]["get"]["parameters"][0]["schema"]
    assert (ids["minimum"], ids["maximum"]) == (1, MAX_ID)
    for path in ("/v1/diamonds", "/v1/price"):
        [single, many] = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["anyOf"]
        assert (many["minItems"], many["maxItems"]) == (1, MAX_STONES)
        assert many["items"] == single
    patch = schemas["DiamondPatch"]
    assert patch["minProperties"] == 1 and patch["additionalProperties"] is False
    assert patch["properties"]["carat"]["type"] == "number"
    assert patch["properties"]["cut"]["type"] == "string"
    assert {"type": "null"} in patch["properties"]["price"]["anyOf"]
    for name in ("Stone", "Diamond", "DiamondPatch", "Promotion", "RetrainRequest"):
        assert schemas[name]["additionalProperties"] is False, name
    carat = schemas["Stone"]["properties"]["carat"]
    assert (carat["exclusiveMinimum"], carat["maximum"]) == (0, 30)


def test_the_domain_rule_is_documented_where_it_applies(spec: dict) -> None:
    applies = {
        ("/v1/price", "post"),
        ("/v1/price", "get"),
        ("/v1/diamonds", "post"),
        ("/v1/diamonds/{id}", "put"),
        ("/v1/diamonds/{id}", "patch"),
    }
    for path, method, operation in operations(spec):
        unprocessable = operation["responses"].get("422", {}).get("description", "")
        assert ("implausible-stone" in unprocessable) == ((path, method) in applies), (path, method)
    assert "/query/limit" in spec["info"]["description"]
    assert "as a fraction" in spec["info"]["description"]


def test_responses_describe_what_they_carry(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    price = schemas["Price"]["properties"]
    assert price["comparables"]["items"] == {"$ref": REF + "Comparable"}
    comparable = schemas["Comparable"]
    assert {"depth", "table", "x", "y", "z", "created_at"} <= set(comparable["required"])
    assert set(schemas["StoredDiamond"]["required"]) == set(schemas["StoredDiamond"]["properties"])
    model = spec["paths"]["/v1/models/{version}"]["get"]["responses"]["200"]
    assert model["content"]["application/json"]["schema"] == {"$ref": REF + "ModelMetadata"}
    created = spec["paths"]["/v1/diamonds"]["post"]["responses"]["201"]
    assert "GetDiamond" in created["links"] and "Location" in created["headers"]
