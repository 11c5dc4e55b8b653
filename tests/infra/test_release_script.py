"""infra/release/release.sh run for real, with gcloud and terraform stand-ins that record
their calls: the image is built, then the database upgrade job is given that image by digest
and run to its end, and only then is the release printed to apply."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.infra.terraform_config import INFRA

RELEASE = INFRA / "release" / "release.sh"
REPOSITORY = "europe-west1-docker.pkg.dev/proj/diamonds-functions"
GCLOUD = """#!/usr/bin/env bash
echo "gcloud $*" >> "$CALLS"
case "$*" in
  "artifacts docker images describe"*--format*) echo "sha256:0123abcd" ;;
  "artifacts docker images describe"*) exit 1 ;;
  "run jobs describe"*) [[ -z $NO_JOB ]] ;;
  "run jobs execute"*) exit "${EXECUTE_STATUS:-0}" ;;
esac
"""
TERRAFORM = f"""#!/usr/bin/env bash
case "${{@: -1}}" in
  functions_image_repository) echo -n "{REPOSITORY}" ;;
  function_source_bucket) echo -n "proj-sources" ;;
  builder_service_account) echo -n "projects/proj/serviceAccounts/builder@proj.iam" ;;
  database_upgrade_job) [[ -z $NO_JOB ]] && echo -n "diamonds-db-upgrade" || exit 1 ;;
  *) exit 1 ;;
esac
"""


def release(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    for name, script in (("gcloud", GCLOUD), ("terraform", TERRAFORM)):
        (tools / name).write_text(script, encoding="utf-8")
        (tools / name).chmod((tools / name).stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls"
    calls.write_text("", encoding="utf-8")
    done = subprocess.run(
        ["bash", str(RELEASE), "dev", "HEAD"],
        env={**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "CALLS": str(calls), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, calls.read_text(encoding="utf-8").splitlines()


def position(calls: list[str], start: str) -> int:
    [index] = [i for i, call in enumerate(calls) if call.startswith(start)]
    return index


@pytest.mark.timeout(180)
def test_the_upgrade_runs_on_the_new_image_before_the_release_is_printed(tmp_path: Path) -> None:
    done, calls = release(tmp_path)
    assert done.returncode == 0, done.stderr
    commit = done.stdout.strip().removeprefix('release = "').removesuffix('"')
    assert len(commit) == 40
    build = position(calls, "gcloud builds submit")
    update = position(calls, "gcloud run jobs update diamonds-db-upgrade")
    execute = position(calls, "gcloud run jobs execute diamonds-db-upgrade")
    assert build < update < execute
    assert f"--image {REPOSITORY}/functions@sha256:0123abcd" in calls[update]
    assert f"revision={commit}" in calls[update]
    assert "--wait" in calls[execute]


@pytest.mark.timeout(180)
def test_a_failed_upgrade_stops_the_release(tmp_path: Path) -> None:
    done, calls = release(tmp_path, EXECUTE_STATUS="1")
    assert done.returncode == 1
    assert position(calls, "gcloud run jobs execute") == len(calls) - 1
    assert "release = " not in done.stdout
    assert "the database upgrade failed" in done.stderr
    assert "gcloud logging read" in done.stderr


@pytest.mark.timeout(180)
def test_before_the_first_full_apply_it_says_to_run_again(tmp_path: Path) -> None:
    done, calls = release(tmp_path, NO_JOB="1")
    assert done.returncode == 0, done.stderr
    assert "no database upgrade job yet" in done.stderr
    assert not [
        call
        for call in calls
        if call.startswith(("gcloud run jobs update", "gcloud run jobs execute"))
    ]
    assert done.stdout.startswith("release = ")
