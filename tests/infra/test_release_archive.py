"""The functions' source archive, built as a release builds it (infra/release/source.py), holds
everything the deployed functions import and nothing of the working tree.

Every deployed target is imported from the unpacked archive alone, in a fresh interpreter: no
site processing (so the editable install of the repository is not on the path), the archive
and the venv's site-packages (the locked requirements) as its only additions to the standard
library, no byte-code written into the archive, and functions-framework finding each target
of main.py as the kind it is deployed, on the mode Cloud Run starts it on (`FUNCTION_USE_ASGI`:
the framework's async mode, through `create_asgi_app` as its command line does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from functions.deployables import DEPLOYABLES
from tests.infra.terraform_config import REPO

SOURCE = REPO / "infra" / "release" / "source.py"
AT_ROOT = {"main.py", "requirements.txt", "Dockerfile"}

IMPORT_EVERY_TARGET = """
import json, os, sys
archive, site_packages, *targets = sys.argv[1:]
sys.path[:0] = [archive, site_packages]
import functions_framework
from functions_framework.aio import create_asgi_app
kinds = {}
for argument in targets:
    target, _, mode = argument.partition(":")
    os.environ.pop("FUNCTION_SIGNATURE_TYPE", None)
    create = create_asgi_app if mode == "asgi" else functions_framework.create_app
    app = create(target, os.path.join(archive, "main.py"))
    kinds[target] = [os.environ["FUNCTION_SIGNATURE_TYPE"], type(app).__name__]
ours = {
    name: getattr(module, "__file__", None) or ""
    for name, module in sys.modules.items()
    if name.split(".")[0] in ("main", "functions", "training")
}
print(json.dumps({"kinds": kinds, "ours": ours}))
"""


def build(repo: Path, revision: str, archive: Path) -> str:
    """The commit the archive was built from, running source.py as release.sh does."""
    result = subprocess.run(
        [sys.executable, str(repo / "infra" / "release" / "source.py"), revision, str(archive)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("release")
    build(REPO, "HEAD", folder / "source.zip")
    with zipfile.ZipFile(folder / "source.zip") as archive:
        archive.extractall(folder / "source")
    return folder / "source"


@pytest.mark.timeout(120)
def test_every_deployed_target_imports_from_the_archive_alone(
    unpacked: Path, tmp_path: Path
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIAMONDS_")}
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-B",
            "-c",
            IMPORT_EVERY_TARGET,
            str(unpacked),
            sysconfig.get_paths()["purelib"],
            *(f"{t}:asgi" if d.asynchronous else t for t, d in DEPLOYABLES.items()),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded["kinds"] == {
        target: [d.kind, "Starlette" if d.asynchronous else "Flask"]
        for target, d in DEPLOYABLES.items()
    }
    outside = {name: path for name, path in loaded["ours"].items() if str(unpacked) not in path}
    assert not outside, f"imported from outside the archive: {outside}"


def test_the_archive_holds_the_deployed_packages_and_its_root_files_only(unpacked: Path) -> None:
    files = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    tops = {name.split("/")[0] for name in files}
    assert tops == AT_ROOT | {"functions", "training"}
    assert "training/comparison.py" not in files
    assert (unpacked / "main.py").read_bytes() == (REPO / "functions" / "main.py").read_bytes()
    requirements = (unpacked / "requirements.txt").read_text(encoding="utf-8")
    assert "--hash=sha256:" in requirements
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in files)


def test_the_archive_is_of_the_commit_not_the_working_tree(tmp_path: Path) -> None:
    """Uncommitted changes and untracked files never ship, and a commit always gives the same
    bytes (the archive's object name and the image tag are the commit)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=60)
    (clone / "functions" / "uncommitted.py").write_text("raise SystemExit\n", encoding="utf-8")
    committed = (clone / "functions" / "main.py").read_bytes()
    (clone / "functions" / "main.py").write_text("changed = True\n", encoding="utf-8")

    commit = build(clone, "HEAD", tmp_path / "a.zip")
    assert build(clone, commit, tmp_path / "b.zip") == commit
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert "functions/uncommitted.py" not in archive.namelist()
        assert archive.read("functions/main.py") == committed
        assert archive.read("main.py") == committed


def test_an_unknown_revision_is_refused_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SOURCE), "no-such-revision", str(tmp_path / "x.zip")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("source.py: no-such-revision:")
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.timeout(120)
def test_the_database_upgrade_runs_from_the_archive_alone(unpacked: Path, tmp_path: Path) -> None:
    """The upgrade job's command, `python -m functions.database upgrade`, in the image."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIAMONDS_")}
    environment["DIAMONDS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'diamonds.db'}"
    run_module = (
        "import runpy, sys; archive, site_packages = sys.argv[1:3]; "
        "sys.path[:0] = [archive, site_packages]; sys.argv[1:] = ['upgrade']; "
        "runpy.run_module('functions.database', run_name='__main__', alter_sys=True)"
    )
    purelib = sysconfig.get_paths()["purelib"]
    command = [sys.executable, "-I", "-S", "-B", "-c", run_module, str(unpacked), purelib]
    result = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=100
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the schema went from revision none to" in result.stdout
