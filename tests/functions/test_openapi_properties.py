"""Property-based tests generated from the served OpenAPI document: schemathesis, with and
without a write key, runs the document's examples, random fuzzing and stateful sequences
following the document's links, with every check: its own (no 5xx, responses and statuses as
documented, invalid data refused, valid data accepted, ...) and this API's (tests/api_checks.py:
valid data is refused only by the domain rule, every response field is documented, every
error points into the request).

Bounded in time (ten examples per operation, a fixed seed, deterministic generation) so that it
is the same run every time. The coverage phase (every boundary of every input: some 1,600
requests, a minute on a busy machine) and thousands of examples are for longer campaigns, run
by hand (README, Tests); the boundaries it found are unit-tested in test_api.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..service_fixtures import KEY, FrontDoor

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "tests" / "schemathesis.toml"
EXAMPLES = 10
SEED = 20261127
PHASES = ("examples", "fuzzing", "stateful")


def schemathesis(door: FrontDoor, *headers: str) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{door.url}/v1/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--request-timeout",
        "120",  # a busy machine never turns a slow 10,000-stone request into a failure
        "--phases",
        ",".join(PHASES),
        "--no-color",
        "--output-truncate",
        "true",
        *(part for header in headers for part in ("--header", header)),
    ]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api_checks",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        command, cwd=door.root, env=environment, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("front_door", "key"),
    [
        ("sqlite", KEY),
        ("sqlite", None),
        pytest.param("postgresql", KEY, marks=pytest.mark.postgres),
    ],
    ids=["sqlite-with-key", "sqlite-without-key", "postgresql-with-key"],
    indirect=["front_door"],
)
def test_schemathesis_finds_nothing(front_door: FrontDoor, key: str | None) -> None:
    headers = [f"Authorization: Bearer {key}"] if key else []
    result = schemathesis(front_door, *headers)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-8000:]
    for phase in PHASES:
        assert f"✅ {phase.capitalize()}" in report, report[-3000:]
    assert "27 selected / 27 total" in report
