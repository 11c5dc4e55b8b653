"""infra/, functions/main.py and the local gateway agree with the table of deployables
(functions/deployables.py): the same targets, of the same kinds, serving the same paths."""

from __future__ import annotations

import re

import pytest

from functions.deployables import DEFAULT_TARGET, DEPLOYABLES, routes_of, target_for
from functions.instance import Instance
from functions.settings import ServiceSettings
from tests.infra.terraform_config import ROOT, attr
from tests.infra.test_entry_points import (
    async_targets_in_main,
    deployed,
    deployed_async,
    targets_in_main,
)

KINDS = {target: deployable.kind for target, deployable in DEPLOYABLES.items()}


def front_door(path: str) -> str:
    """The function the Terraform URL map sends `path` to."""
    for pattern, target in ROOT["locals"]["routes"].items():
        if path == pattern or (pattern.endswith("/*") and path.startswith(pattern[:-1])):
            return target
    return attr(ROOT["module"]["front_door"], "default_backend")


def served_paths() -> list[tuple[str, str]]:
    """(target, a concrete path of each of its routes)."""
    instance = Instance(ServiceSettings())
    return [
        (target, re.sub(r"<[^>]+>", "1", route.path))
        for target in DEPLOYABLES
        for route in routes_of(instance, target)
    ]


def test_terraform_deploys_every_deployable_as_its_kind() -> None:
    assert deployed() == KINDS


def test_main_py_defines_every_deployable_as_its_kind() -> None:
    assert targets_in_main() == KINDS


def test_the_asynchronous_deployables_are_async_in_main_py_and_in_terraform() -> None:
    asynchronous = {target for target, d in DEPLOYABLES.items() if d.asynchronous}
    assert asynchronous == async_targets_in_main() == deployed_async()


def test_the_front_door_default_is_the_table_default() -> None:
    assert attr(ROOT["module"]["front_door"], "default_backend") == DEFAULT_TARGET


@pytest.mark.parametrize("pattern", sorted(ROOT["locals"]["routes"]))
def test_every_path_of_the_url_map_goes_where_the_table_says(pattern: str) -> None:
    assert ROOT["locals"]["routes"][pattern] == target_for(pattern.removesuffix("/*"))


@pytest.mark.parametrize(
    "target,prefix", [(t, p) for t, d in DEPLOYABLES.items() for p in d.prefixes]
)
def test_the_url_map_routes_each_prefix_of_the_table(target: str, prefix: str) -> None:
    assert ROOT["locals"]["routes"].get(prefix) == target


@pytest.mark.parametrize("target,path", served_paths())
def test_every_route_reaches_its_function_locally_and_in_the_cloud(target: str, path: str) -> None:
    assert target_for(path) == target
    assert front_door(path) == target
