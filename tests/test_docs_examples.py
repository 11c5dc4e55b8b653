"""Every curl example of the README, of the docs page (/v1/docs) and of `diamonds serve`'s
console runs as written, with bash, from the repository's root, against the local stack:
`diamonds serve` with a champion and the customer's stones, `API` and `KEY` set as the README
says. Each call answers 2xx, or the 4xx status the comment above it documents."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .service_fixtures import Served, serving

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, trained_models: Path, customer_csv: bytes
) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("examples")
    shutil.copytree(trained_models, root / "models")
    with serving(root, customer_csv) as served:
        yield served


def readme_examples() -> str:
    """The README's shell blocks that call the API."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(), re.S | re.M)
    return "\n".join(block for block in blocks if "$API" in block)


def page_examples(page: str) -> str:
    return "\n".join(html.unescape(block) for block in re.findall(r"<pre>(.*?)</pre>", page, re.S))


def documented_calls(script: str) -> list[tuple[str, str]]:
    """Each curl call of `script`, in order: its command line and the status it should answer
    ("2xx", or the 4xx status named in the comment above it)."""
    calls: list[tuple[str, str]] = []
    expected = "2xx"
    for line in script.replace("\\\n", " ").splitlines():
        if line.startswith("#"):
            named = re.search(r"\b(4\d\d)\b", line)
            expected = named.group(1) if named else "2xx"
        elif not line.strip():
            expected = "2xx"
        calls += [(line, expected)] * len(re.findall(r"\bcurl\b", line))
    return calls


def run_examples(script: str, served: Served, tmp_path: Path) -> list[str]:
    """Run `script` with bash (stopping at the first failing command, unset variable included)
    and check every curl call's status; returns what it printed."""
    (tmp_path / ".curlrc").write_text('write-out = "%{stderr}%{http_code}\\n"\n')
    env = {**os.environ, "CURL_HOME": str(tmp_path), "API": served.url, "KEY": served.write_key}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{done.stderr}\n{done.stdout[-2000:]}"
    statuses = done.stderr.split()
    calls = documented_calls(script)
    assert len(statuses) == len(calls), (statuses, calls)
    wrong = [
        (status, expected, line)
        for status, (line, expected) in zip(statuses, calls, strict=True)
        if not (status == expected or (expected == "2xx" and status.startswith("2")))
    ]
    assert wrong == []
    return done.stdout


def test_the_readme_examples_run_as_written(served: Served, tmp_path: Path) -> None:
    script = readme_examples()
    assert script.count("curl ") >= 20 and "@docs/examples/stones.json" in script
    printed = run_examples(script, served, tmp_path)
    assert '"prices":[' in printed.replace(" ", "") and '"status":"ok"' in printed.replace(" ", "")


def test_the_docs_page_examples_run_as_written(served: Served, tmp_path: Path) -> None:
    page = requests.get(f"{served.url}/v1/docs", timeout=30).text
    script = page_examples(page)
    assert script.startswith("VERSION=$(curl") and len(documented_calls(script)) >= 17
    run_examples(script, served, tmp_path)


def test_the_example_the_console_prints_runs_as_written(served: Served, tmp_path: Path) -> None:
    (example,) = re.findall(r"^  try +(curl .*)$", served.console, re.M)
    assert '"price":' in run_examples(example, served, tmp_path)
