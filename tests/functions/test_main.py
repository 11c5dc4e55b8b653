"""The entry points' module, imported as functions-framework imports it: in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from functions.deployables import DEPLOYABLES

TARGETS = tuple(DEPLOYABLES)


def test_the_entry_points_load_with_the_collector_paused_then_running_again(tmp_path: Path) -> None:
    code = (
        "import gc, functions.main as main\n"
        f"print(all(callable(getattr(main, t)) for t in {TARGETS!r}))\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 10_000)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]
