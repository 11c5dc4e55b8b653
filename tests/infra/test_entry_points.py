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


def deployed_async() -> set[str]:
    """The entry points Terraform starts on the framework's async (ASGI) mode."""
    return {name for name, fn in ROOT["locals"]["functions"].items() if fn["asynchronous"]}


def _decorator(node: ast.expr) -> tuple[str, bool] | None:
    """`functions_framework[.aio].http` or `.cloud_event` => (its signature type, async)."""
    if isinstance(node, ast.Call):
        node = node.func
    if not isinstance(node, ast.Attribute) or node.attr not in DECORATORS:
        return None
    owner, asynchronous = node.value, False
    if isinstance(owner, ast.Attribute) and owner.attr == "aio":
        owner, asynchronous = owner.value, True
    if isinstance(owner, ast.Name) and owner.id == "functions_framework":
        return DECORATORS[node.attr], asynchronous
    return None


def decorated_in_main() -> dict[str, tuple[str, bool]]:
    """Targets main.py defines (`name = functions_framework[.aio].http(...)` or a decorated
    def) => (signature type, async)."""
    found = {}
    for statement in ast.parse(MAIN.read_text(encoding="utf-8")).body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
            decorator = _decorator(statement.value)
            for target in statement.targets:
                if decorator and isinstance(target, ast.Name):
                    found[target.id] = decorator
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in statement.decorator_list:
                if decorator := _decorator(node):
                    found[statement.name] = decorator
    return found


def targets_in_main() -> dict[str, str]:
    return {target: kind for target, (kind, _) in decorated_in_main().items()}


def async_targets_in_main() -> set[str]:
    return {target for target, (_, asynchronous) in decorated_in_main().items() if asynchronous}


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


def test_main_py_makes_async_the_targets_terraform_starts_async() -> None:
    assert async_targets_in_main() == deployed_async()


FRAMEWORK_SIGNATURES = """
import json, os, sys
import functions_framework
signatures = {}
for target in sys.argv[1:]:
    os.environ.pop("FUNCTION_SIGNATURE_TYPE", None)
    try:
        app = functions_framework.create_app(target, "functions/main.py")
    except Exception as error:
        signatures[target] = f"{type(error).__name__}: {error}"
    else:
        signatures[target] = [os.environ["FUNCTION_SIGNATURE_TYPE"], type(app).__name__]
print(json.dumps(signatures))
"""


@pytest.mark.timeout(60)
def test_functions_framework_serves_each_target_as_the_kind_deployed() -> None:
    """As Cloud Functions starts it: the framework loads main.py and finds each target, and
    takes its signature type and its mode (a Flask app, or a Starlette app for the async mode)
    from the decorator alone (registered under the function's __name__, which must be the
    target's)."""
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
        app = "Starlette" if target in deployed_async() else "Flask"
        assert served[target] == [kind, app], (
            f"functions-framework serves {target} as {served[target]}"
        )
