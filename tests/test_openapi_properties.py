"""Property-based tests generated from the OpenAPI document: whatever schemathesis sends, no
response is a 5xx and every response matches its documented schema."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from .service_fixtures import KEY

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, trained_models: Path) -> Iterator:
    from functions_framework import create_app

    from functions.serve import Gateway

    root = tmp_path_factory.mktemp("properties")
    shutil.copytree(trained_models, root / "models")
    environment = {
        "DIAMONDS_DATA_ROOT": (root / "data").as_uri(),
        "DIAMONDS_MODELS_ROOT": (root / "models").as_uri(),
        "DIAMONDS_DATABASE_URL": f"sqlite:///{root / 'diamonds.db'}",
        "DIAMONDS_API_KEYS": KEY,
        "DIAMONDS_TRAINING_RUNNER": "local",
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    main = str(REPO / "functions" / "main.py")
    app = Gateway(
        {name: create_app(name, main) for name in ("inventory", "pricing", "models", "retrain")}
    )
    yield schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_the_document_is_whole_on_every_request() -> None:
    """Each function instance builds the document per request from cached schemas: a second
    request must not find them emptied by the first."""
    from functions.config import ServiceSettings
    from functions.instance import Instance
    from functions.openapi import document
    from functions.service import all_routes

    routes = all_routes(Instance(ServiceSettings()))
    first = document(routes)
    assert document(routes) == first
    named = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(first)))
    assert named <= set(first["components"]["schemas"])


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.exclude(path="/v1/retrain").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_response_matches_its_schema(case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {KEY}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
