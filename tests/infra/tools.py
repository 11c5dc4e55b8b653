"""The command-line tools the infra tests run, from the venv that make installs."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def venv_tool(name: str, installed_by: str) -> str:
    """The path of `name` beside this Python (else on PATH); skipped where it is missing,
    except in CI, where that fails."""
    beside_python = Path(sys.executable).with_name(name)
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is not installed ({installed_by})")
        pytest.skip(f"{name} is not installed; {installed_by}")
    return found
