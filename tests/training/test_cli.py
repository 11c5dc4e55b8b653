"""The `diamonds` command line (training/cli.py): exit codes, messages, pipes, and which package
each command loads. The commands' work is tested end to end in
tests/training/test_training_run.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.cli import main, parse_params
from training.registry import Registry
from training.storage import open_storage

DIAMONDS = Path(sys.executable).with_name("diamonds")
METRICS = {"cross_validation": {"mape": 7.5}}


@pytest.fixture()
def registered(roots: dict[str, str]) -> Registry:
    """A MODELS root with one version registered (its metadata: enough to list and show it)."""
    registry = Registry(open_storage(roots["models"]))
    registry.register(
        "v1", {"model.json": b"{}"}, {"metrics": METRICS, "lineage": {"rows_accepted": 100}}
    )
    return registry


def diamonds(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The console script, run as a user runs it."""
    return subprocess.run(
        [str(DIAMONDS), *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_console_script_is_trainings_command_line() -> None:
    assert "from training.cli import main" in DIAMONDS.read_text()


def test_listing_an_empty_registry_says_so(roots, capsys) -> None:
    assert main(["models", "list", "--models-root", roots["models"]]) == 0
    assert capsys.readouterr().out == f"no models registered under {roots['models']}\n"


@pytest.mark.parametrize(
    "argv", [["models", "show", "v1"], ["models", "list"], ["models", "promote", "v1"]]
)
def test_a_closed_pipe_ends_the_output_quietly(argv, registered, roots) -> None:
    """`diamonds models show V | head`: here the reader is gone before the command writes a
    byte. The command still does its work (the promotion happens), with no traceback."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [str(DIAMONDS), *argv, "--models-root", roots["models"]],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert result.returncode == 0 and result.stderr == ""
    if argv[1] == "promote":
        assert registered.champion()["version"] == "v1"


def test_an_internal_failure_is_one_line_and_exit_1(registered, roots) -> None:
    """A fault that is no bad input (here a corrupted metadata file: a ValueError) is not
    reported as bad input; DIAMONDS_DEBUG=1 adds the traceback."""
    registered.storage.write("models/v1/metadata.json", b"{not json")
    result = diamonds("models", "show", "v1", "--models-root", roots["models"])
    assert result.returncode == 1
    assert result.stderr.startswith("diamonds: unexpected failure: JSONDecodeError")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    debug = diamonds(
        "models", "show", "v1", "--models-root", roots["models"], env={"DIAMONDS_DEBUG": "1"}
    )
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr


def test_no_champion_to_price_with_is_a_failure_not_bad_input(roots, tmp_path, capsys) -> None:
    stones = tmp_path / "stones.csv"
    stones.write_text("carat,cut,color,clarity,depth,table,x,y,z\n")
    out = tmp_path / "priced.csv"
    code = main(["price", "--in", str(stones), "--out", str(out), "--models-root", roots["models"]])
    assert code == 1
    assert capsys.readouterr().err.startswith("diamonds: error: no champion model yet")


def test_the_training_commands_never_load_the_service(registered, roots) -> None:
    """`python -m training` and `diamonds train | price | models` stay inside `training`."""
    script = (
        "import sys\n"
        "from training.cli import main\n"
        f"code = main(['models', 'list', '--models-root', {roots['models']!r}])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'functions'))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_the_service_commands_join_the_command_line() -> None:
    result = diamonds("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout and "ingestions" in result.stdout


def test_params_are_converted_and_checked() -> None:
    params = parse_params(["n_estimators=300", "tree_features=carat, x", "learning_rate=0.05"])
    assert (params.n_estimators, params.tree_features, params.learning_rate) == (
        300,
        ("carat", "x"),
        0.05,
    )


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("n_estimators=many", "--param n_estimators: Input should be a valid integer"),
        ("learning_rate=nan", "--param learning_rate: Input should be a finite number"),
        ("coverage=1", "--param coverage: Input should be less than 1"),
        ("seed=-1", "--param seed: Input should be greater than or equal to 0"),
        ("tree_features=carat,weight", "--param tree_features: Value error, weight: not among"),
        ("nonsense=1", "--param 'nonsense=1': expected NAME=VALUE with NAME one of"),
        ("n_estimators=", "--param 'n_estimators=': expected NAME=VALUE"),
    ],
)
def test_a_bad_param_is_named(assignment: str, message: str, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "x.csv", "--param", assignment]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"diamonds: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("version", ["../x", "..", "v1/../../etc", ".hidden"])
def test_a_version_name_that_names_no_file_is_no_version(
    version, registered, roots, capsys
) -> None:
    for action in ("show", "promote"):
        assert main(["models", action, version, "--models-root", roots["models"]]) == 2
        assert capsys.readouterr().err == f"diamonds: error: no model version {version}\n"
