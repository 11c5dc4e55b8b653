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


def test_an_instance_prices_first_without_the_database_layer_or_the_other_payloads(
    tmp_path: Path, trained_models: Path
) -> None:
    """Declaring every function's routes (for the API document) imports the database layer,
    SQLAlchemy: a quarter of a second the first price of an instance does not wait for. The
    log, which needs it, is written later, by its own thread (dropped here). Nor does it build
    the other functions' payloads."""
    import os

    from ..service_fixtures import copy_models
    from .test_api import STONE

    copy_models(trained_models, (tmp_path / "models").as_uri())
    environment = {
        **os.environ,
        "DIAMONDS_MODELS_ROOT": (tmp_path / "models").as_uri(),
        "DIAMONDS_DATA_ROOT": (tmp_path / "data").as_uri(),
        "DIAMONDS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
    }
    code = (
        "import sys\n"
        "from werkzeug.test import EnvironBuilder\n"
        "import functions.main as main\n"
        "from functions.deployables import http_function\n"
        "main.instance._made['prediction_log'] = type('Dropped', (), {'submit': print})()\n"
        f"request = EnvironBuilder(path='/v1/price', method='POST', json={STONE!r})\n"
        "answer = http_function(main.instance, 'pricing')(request.get_request())\n"
        "print(answer.status_code, 'sqlalchemy' in sys.modules)\n"
        "print(sorted(m for m in sys.modules if m.startswith('functions.payloads.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[2],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *_, priced, payloads = result.stdout.splitlines()
    assert priced == "200 False"
    assert payloads == str([f"functions.payloads.{m}" for m in ("pricing", "schema", "stones")])
