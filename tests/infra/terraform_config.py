"""The Terraform in infra/, parsed with python-hcl2, and what depends on what in it.

No terraform binary and no network are needed. python-hcl2 has changed its output over
releases (and checkov ships a fork under the same import name): attributes may be wrapped in
one-element lists, and strings and block labels may keep their quotes. The format is probed
once, and every file is read through the same accessors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
TF_FILES = sorted(p for p in INFRA.rglob("*.tf") if ".terraform" not in p.parts)
MODULE_DIRS = sorted({p.parent for p in TF_FILES})


def _probe() -> tuple[bool, bool]:
    parsed = hcl2.loads('a = "x"\n')["a"]
    wrapped = isinstance(parsed, list)
    value = parsed[0] if wrapped else parsed
    return wrapped, value == '"x"'


WRAPPED, QUOTED = _probe()
META_KEYS = {
    "__start_line__",
    "__end_line__",
    "__is_block__",
    "__comments__",
    "__inline_comments__",
}


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and QUOTED and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k not in META_KEYS}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def attr(body: dict, name: str, default: Any = KeyError) -> Any:
    """The value of attribute `name` of a block body."""
    if name not in body:
        if default is KeyError:
            raise KeyError(name)
        return default
    value = body[name]
    return value[0] if WRAPPED else value


def blocks(body: dict, name: str) -> list[dict]:
    """The nested blocks called `name` of a block body (dynamic blocks not included)."""
    return list(body.get(name, []))


def dynamic(body: dict, name: str) -> dict:
    """The body of `dynamic "<name>"`."""
    for block in blocks(body, "dynamic"):
        if name in block:
            return block[name]
    raise KeyError(f"dynamic {name}")


def content(dynamic_body: dict) -> dict:
    return blocks(dynamic_body, "content")[0]


@cache
def parse(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return _unquote(hcl2.load(handle))


@cache
def module_config(directory: Path) -> dict[str, Any]:
    """All top-level blocks of a module, merged across its .tf files."""
    merged: dict[str, Any] = {
        "resource": {},
        "data": {},
        "module": {},
        "variable": {},
        "output": {},
        "locals": {},
    }
    for path in sorted(directory.glob("*.tf")):
        parsed = parse(path)
        for kind in ("resource", "data"):
            for entry in parsed.get(kind, []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        merged[kind][f"{rtype}.{name}"] = body
        for kind in ("module", "variable", "output"):
            for entry in parsed.get(kind, []):
                merged[kind].update(entry)
        for entry in parsed.get("locals", []):
            merged["locals"].update({k: attr(entry, k) for k in entry})
    return merged


ROOT = module_config(INFRA)


def ref(expression: str) -> str:
    """A reference as python-hcl2 renders it: "${...}"."""
    return "${" + expression + "}"


def expr(value: Any) -> str:
    """An expression in one canonical spelling (parsers differ in spacing, quotes and null)."""
    text = re.sub(r"\s+", "", str(value)).replace("'", '"')
    return re.sub(r"\bNone\b", "null", text)


def walk(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (key, value) pair anywhere in a parsed tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def listed_names(expression: Any) -> list[str]:
    """Names listed by a function's env or secrets: a list literal, or concat(local.x, [...])."""
    if isinstance(expression, list):
        return expression
    names = re.findall(r'"(DIAMONDS_[A-Z0-9_]+)"', expr(expression))
    for local_name in re.findall(r"local\.(\w+)", expression):
        names += ROOT["locals"][local_name]
    return names


def strings(node: Any) -> Iterator[str]:
    """Every string anywhere in a parsed tree (expressions are strings too)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


# --- what waits for what ---------------------------------------------------------------------
# Terraform orders a resource after everything it references and everything in its depends_on;
# a module's depends_on orders every resource inside it; an input variable carries the
# references of the expression the caller passes. A node is (module path, address): the path
# is a tuple of module call names from the root, the address "type.name" or "data.type.name".

Node = tuple[tuple[str, ...], str]

ADDRESS = re.compile(r"(?<![\w.])((?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z_][\w-]*)")
MODULE_REF = re.compile(r"(?<![\w.])module\.(\w+)(?:\[[^\]]*\])?(?:\.(\w+))?")
LOCAL_REF = re.compile(r"(?<![\w.])local\.(\w+)")
VAR_REF = re.compile(r"(?<![\w.])var\.(\w+)")


def module_dir(path: tuple[str, ...]) -> Path:
    directory = INFRA
    for name in path:
        call = module_config(directory)["module"][name]
        directory = (directory / attr(call, "source")).resolve()
    return directory


def body_of(path: tuple[str, ...], address: str) -> dict:
    config = module_config(module_dir(path))
    kind = "data" if address.startswith("data.") else "resource"
    return config[kind][address.removeprefix("data.")]


def declared(path: tuple[str, ...]) -> set[str]:
    config = module_config(module_dir(path))
    return set(config["resource"]) | {f"data.{a}" for a in config["data"]}


def _edges(path: tuple[str, ...], node: Any, seen_locals: frozenset[str]) -> set[Node]:
    """What the expressions in `node`, evaluated in module `path`, make Terraform wait for."""
    config = module_config(module_dir(path))
    addresses = declared(path)
    found: set[Node] = set()
    for text in strings(node):
        found |= {(path, a) for a in ADDRESS.findall(text) if a in addresses}
        for name, output in MODULE_REF.findall(text):
            child = (*path, name)
            if output:
                value = attr(module_config(module_dir(child))["output"][output], "value")
                found |= _edges(child, value, frozenset())
            else:
                found |= {(child, a) for a in declared(child)}
        for name in set(LOCAL_REF.findall(text)) - seen_locals:
            found |= _edges(path, config["locals"][name], seen_locals | {name})
        if path:
            call = module_config(module_dir(path[:-1]))["module"][path[-1]]
            for name in VAR_REF.findall(text):
                if name in call:
                    passed = [attr(call, name), attr(call, "for_each", None)]
                    found |= _edges(path[:-1], passed, frozenset())
    return found


def referenced(path: tuple[str, ...], expression: Any) -> set[Node]:
    """The resources and data sources an expression in module `path` refers to."""
    return _edges(path, expression, frozenset())


@cache
def dependencies(path: tuple[str, ...], address: str) -> frozenset[Node]:
    """The nodes a resource or data source waits for directly: its references, its
    depends_on, and the depends_on of every module call above it."""
    found = _edges(path, body_of(path, address), frozenset())
    for depth in range(len(path)):
        call = module_config(module_dir(path[:depth]))["module"][path[depth]]
        found |= _edges(path[:depth], attr(call, "depends_on", []), frozenset())
    found.discard((path, address))
    return frozenset(found)


def waits_for(start: Node, target: Node) -> bool:
    """Whether Terraform creates `target` before `start` (directly or through other nodes)."""
    pending, seen = [start], {start}
    while pending:
        for node in dependencies(*pending.pop()):
            if node == target:
                return True
            if node not in seen:
                seen.add(node)
                pending.append(node)
    return False


def every_node(path: tuple[str, ...] = ()) -> Iterator[Node]:
    """Every resource and data source of the deployment, in the root and in its modules."""
    yield from ((path, a) for a in sorted(declared(path)))
    for name in module_config(module_dir(path))["module"]:
        yield from every_node((*path, name))
