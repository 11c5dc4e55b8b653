"""checkov scans infra/ and finds nothing: every skip is an inline, justified exception."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.infra.tools import venv_tool

REPO = Path(__file__).resolve().parents[2]


def _checkov() -> str:
    return venv_tool("checkov", "it is part of the dev extra: make installs it")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_checkov_finds_no_failed_check() -> None:
    result = subprocess.run(
        [_checkov(), "-d", "infra", "--compact", "--quiet", "--skip-download", "-o", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    terraform = [r for r in reports if r.get("check_type") == "terraform"]
    assert terraform, f"checkov produced no terraform report: {result.stderr[-2000:]}"
    for report in reports:
        summary = report["summary"]
        failed = [
            f"{c['check_id']} {c['resource']} ({c['file_path']})"
            for c in report["results"]["failed_checks"]
        ]
        assert summary["failed"] == 0, "\n".join(failed)
        assert summary["parsing_errors"] == 0, summary
    assert terraform[0]["summary"]["passed"] > 0
