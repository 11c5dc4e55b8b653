"""uv.lock is the one list of what gets installed: `make` (and so CI), the functions' image and
the training image install its versions and files, checked by their hashes. The lock must match
pyproject.toml, and each requirements file must be the lock exported as its header says.

After a change of dependencies in pyproject.toml, `make lock` updates all three.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.terraform_config import REPO
from tests.infra.tools import venv_tool

# requirements file => what of the lock it holds
EXPORTS = {
    "functions/requirements.txt": "--extra function",
    "training/image/requirements.txt": "--only-group training-job",
}


@pytest.fixture(scope="module")
def uv() -> str:
    return venv_tool("uv", "make installs it into the venv")


def run_uv(uv: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [uv, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_lock_matches_pyproject(uv: str) -> None:
    result = run_uv(uv, "lock", "--check", "--offline")
    assert result.returncode == 0, f"uv.lock is stale: run `make lock`\n{result.stderr}"


def test_a_changed_bound_in_pyproject_makes_the_lock_stale(uv: str, tmp_path: Path) -> None:
    """The check above is not vacuous: a lock that no longer matches is refused."""
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    changed = re.sub(r'"numpy>=[^"]+"', '"numpy>=1.26.1"', text, count=1)
    assert changed != text
    pyproject.write_text(changed, encoding="utf-8")
    assert run_uv(uv, "lock", "--check", "--offline", cwd=tmp_path).returncode != 0


@pytest.mark.parametrize("path", sorted(EXPORTS))
def test_each_requirements_file_is_the_lock_exported(uv: str, path: str) -> None:
    text = (REPO / path).read_text(encoding="utf-8")
    command = re.search(r"^#\s+(uv export .*)$", text, re.M)
    assert command, f"{path} was not written by uv export: run `make lock`"
    args = shlex.split(command.group(1))[1:]
    assert "--frozen" in args and EXPORTS[path] in command.group(1), command.group(1)
    exported = run_uv(uv, *args)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == text, f"{path} is stale: run `make lock`"


def locked_requirements(path: str) -> dict[str, list[str]]:
    """Requirement => its hashes, as pip reads the file (continued lines joined)."""
    text = (REPO / path).read_text(encoding="utf-8").replace("\\\n", " ")
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            requirement, *options = line.split()
            found[requirement] = [o for o in options if o.startswith("--hash=")]
    return found


@pytest.mark.parametrize("path", sorted(EXPORTS))
def test_every_locked_requirement_is_pinned_with_its_hashes(path: str) -> None:
    requirements = locked_requirements(path)
    assert requirements, path
    for requirement, hashes in requirements.items():
        assert "==" in requirement, f"{path}: {requirement} is not pinned"
        assert hashes and all(h.startswith("--hash=sha256:") for h in hashes), requirement


@pytest.mark.parametrize(
    ("installer", "requirements"),
    [
        ("Makefile", "$(VENV)/requirements-$*.txt"),
        ("training/Dockerfile", "training/image/requirements.txt"),
        ("infra/release/Dockerfile", "requirements.txt"),
    ],
)
def test_every_install_is_of_the_locked_requirements_by_hash(
    installer: str, requirements: str
) -> None:
    """The venv of make and CI, the training image and the functions' image."""
    text = (REPO / installer).read_text(encoding="utf-8")
    assert requirements in text, f"{installer} does not install {requirements}"
    assert re.search(r"pip install [^\n]*--require-hashes --no-deps", text), installer
