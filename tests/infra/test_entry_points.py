"""Every function Terraform deploys has its target in functions/main.py, of the kind deployed.

A deployed function whose target is missing, or is an HTTP function where the ingest
subscription pushes CloudEvents, builds but cannot serve: its revision never becomes ready, the
apply taints it and everything that reads the function module's outputs is never created.
Terraform gives each function its kind (`kind` in local.functions): an HTTP function behind
the load balancer, or a CloudEvent function that events are pushed to.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from tests.infra.terraform_config import REPO, ROOT

MAIN = REPO / "functions" / "main.py"
DECORATORS = {"http": "http", "cloud_event": "cloudevent"}


def deployed() -> dict[str, str]:
    """Entry point => the signature type functions-framework must give it (http|cloudevent)."""
    return {name: fn["kind"] for name, fn in ROOT["locals"]["functions"].items()}


def _kind(node: ast.expr) -> str | None:
    """`functions_framework.http` or `functions_framework.cloud_event` => its signature type."""
    if isinstance(node, ast.Call):
        node = node.func
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "functions_framework"
    ):
        return DECORATORS.get(node.attr)
    return None


def targets_in_main() -> dict[str, str]:
    """Targets main.py defines: `name = functions_framework.http(...)` or a decorated def."""
    found = {}
    for statement in ast.parse(MAIN.read_text(encoding="utf-8")).body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
            kind = _kind(statement.value)
            for target in statement.targets:
                if kind and isinstance(target, ast.Name):
                    found[target.id] = kind
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in statement.decorator_list:
                if kind := _kind(decorator):
                    found[statement.name] = kind
    return found


@pytest.mark.parametrize("target", sorted(deployed()))
def test_every_deployed_function_has_its_target_in_main_py(target: str) -> None:
    kind = deployed()[target]
    decorator = {v: k for k, v in DECORATORS.items()}[kind]
    found = targets_in_main()
    assert target in found, f"functions/main.py has no `{target} = functions_framework.{decorator}`"
    assert found[target] == kind, (
        f"{target} is deployed as {kind} but main.py makes it {found[target]}"
    )


def test_main_py_has_no_target_terraform_does_not_deploy() -> None:
    assert set(targets_in_main()) <= set(deployed())


FRAMEWORK_SIGNATURES = """
import json, os, sys
import functions_framework
signatures = {}
for target in sys.argv[1:]:
    os.environ.pop("FUNCTION_SIGNATURE_TYPE", None)
    try:
        functions_framework.create_app(target, "functions/main.py")
    except Exception as error:
        signatures[target] = f"{type(error).__name__}: {error}"
    else:
        signatures[target] = os.environ["FUNCTION_SIGNATURE_TYPE"]
print(json.dumps(signatures))
"""


@pytest.mark.timeout(60)
def test_functions_framework_serves_each_target_as_the_kind_deployed() -> None:
    """As Cloud Functions starts it: the framework loads main.py and finds each target, and
    takes its signature type from the decorator alone (registered under the function's
    __name__, which must be the target's)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIAMONDS_")}
    result = subprocess.run(
        [sys.executable, "-c", FRAMEWORK_SIGNATURES, *sorted(deployed())],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.splitlines()[-1])
    for target, kind in deployed().items():
        assert served[target] == kind, f"functions-framework serves {target} as {served[target]}"
