"""The champion of one instance: loaded once, reloaded when champion.json changes (checked at
most every ttl seconds), and the old model kept when a new champion cannot be loaded.

A real registry in a folder and a real (tiny) model; time is a clock the test moves.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from functions.champion import Champion
from training.features import feature_matrix
from training.model import MODEL_FILE, ModelParams, PriceModel
from training.registry import ChecksumMismatch, NoChampion, Registry, UnknownVersion
from training.storage import LocalStorage, NotFound

TTL = 10.0
KEEPS_SERVING = "could not load the champion; the current model keeps serving"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def model_files(sample_csv: bytes) -> dict[str, bytes]:
    from training.validation import read_records

    records = read_records(sample_csv).accepted
    model = PriceModel(ModelParams(n_estimators=3, calibration_folds=2))
    return model.fit(feature_matrix(records), records["price"].to_numpy(float)).to_files()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def registry(root: Path, model_files: dict[str, bytes]) -> Registry:
    """Versions v1 and v2 registered, v1 the champion."""
    registry = Registry(LocalStorage(root))
    for version in ("v1", "v2"):
        registry.register(version, model_files, {})
    registry.promote("v1", "first")
    return registry


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="diamonds.champion")
    return caplog


def loads(logs: pytest.LogCaptureFixture, version: str) -> int:
    return sum(r.getMessage() == f"serving model {version}" for r in logs.records)


def refusals(logs: pytest.LogCaptureFixture) -> list[BaseException]:
    return [
        r.exc_info[1]
        for r in logs.records
        if r.levelno == logging.ERROR and r.getMessage() == KEEPS_SERVING and r.exc_info
    ]


def test_the_champion_is_loaded_once_and_served(
    registry: Registry, clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    champion = Champion(registry, TTL, clock)
    version, model = champion.get()
    assert version == "v1" and isinstance(model, PriceModel)
    for _ in range(5):
        clock.advance(TTL)
        assert champion.get() == (version, model)
        assert champion.get()[1] is model
    assert loads(logs, "v1") == 1 and not refusals(logs)


def test_a_new_champion_is_served_once_ttl_has_passed(
    registry: Registry, clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    champion = Champion(registry, TTL, clock)
    _, first = champion.get()
    registry.promote("v2", "better")
    assert champion.get() == ("v1", first)
    clock.advance(TTL - 0.001)
    assert champion.get() == ("v1", first)
    clock.advance(0.001)
    version, model = champion.get()
    assert version == "v2" and model is not first
    assert loads(logs, "v1") == loads(logs, "v2") == 1


def test_within_ttl_a_price_makes_no_storage_round_trip(
    registry: Registry, root: Path, clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    champion = Champion(registry, TTL, clock)
    serving = champion.get()
    repair = unreachable(root)
    clock.advance(TTL / 2)
    assert champion.get() == serving
    repair()
    assert not refusals(logs)


def test_no_champion_at_all_is_the_documented_error(
    tmp_path: Path, model_files: dict[str, bytes], clock: Clock
) -> None:
    registry = Registry(LocalStorage(tmp_path / "empty"))
    champion = Champion(registry, TTL, clock)
    with pytest.raises(NoChampion, match="no model has been trained and promoted yet"):
        champion.get()
    registry.register("v1", model_files, {})
    registry.promote("v1", "first")
    assert champion.get()[0] == "v1", "a first champion serves at once, without waiting ttl"


def test_a_first_champion_that_cannot_be_loaded_is_no_champion(
    registry: Registry, root: Path, clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    tamper(root, "v1")
    champion = Champion(registry, TTL, clock)
    with pytest.raises(NoChampion):
        champion.get()
    assert [type(e) for e in refusals(logs)] == [ChecksumMismatch]


def tamper(root: Path, version: str) -> Callable[[], None]:
    path = root / "models" / version / MODEL_FILE
    original = path.read_bytes()
    path.write_bytes(original.replace(b'"intercept":', b'"intercept": '))
    return lambda: path.write_bytes(original)


def remove_model_file(root: Path, version: str) -> Callable[[], None]:
    path = root / "models" / version / MODEL_FILE
    original = path.read_bytes()
    path.unlink()
    return lambda: path.write_bytes(original)


def remove_version(root: Path, version: str) -> Callable[[], None]:
    folder = root / "models" / version
    aside = folder.with_name(f"{version}-aside")
    folder.rename(aside)
    return lambda: aside.rename(folder)


def unreachable(root: Path, version: str = "") -> Callable[[], None]:
    """The whole MODELS root fails with an OS error (a symbolic link to itself), as a lost
    mount or network folder would."""
    aside = root.with_name(f"{root.name}-aside")
    root.rename(aside)
    root.symlink_to(root)

    def repair() -> None:
        root.unlink()
        aside.rename(root)

    return repair


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (tamper, ChecksumMismatch),
        (remove_model_file, NotFound),
        (remove_version, UnknownVersion),
        (unreachable, OSError),
    ],
    ids=["checksum mismatch", "model file missing", "version missing", "storage unreachable"],
)
def test_the_old_model_keeps_serving_when_the_new_champion_cannot_be_loaded(
    registry: Registry,
    root: Path,
    clock: Clock,
    logs: pytest.LogCaptureFixture,
    fault: Callable[[Path, str], Callable[[], None]],
    error: type[BaseException],
) -> None:
    champion = Champion(registry, TTL, clock)
    serving = champion.get()
    registry.promote("v2", "better")
    repair = fault(root, "v2")

    clock.advance(TTL)
    assert champion.get() == serving
    assert [type(e) for e in refusals(logs)] == [error]
    assert champion.get() == serving, "a refused champion is not retried before ttl"
    assert len(refusals(logs)) == 1

    clock.advance(TTL)
    assert champion.get() == serving
    assert len(refusals(logs)) == 2, "it is retried every ttl, and says so each time"

    repair()
    clock.advance(TTL)
    assert champion.get()[0] == "v2"
    assert loads(logs, "v2") == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("first", [True, False], ids=["first load", "reload"])
def test_callers_during_a_load_wait_for_that_one_load(
    registry: Registry,
    root: Path,
    model_files: dict[str, bytes],
    clock: Clock,
    logs: pytest.LogCaptureFixture,
    first: bool,
) -> None:
    """The model file is a FIFO: the load that opens it stays in progress until the test has
    started the other callers and then writes the file."""
    champion = Champion(registry, TTL, clock)
    if not first:
        champion.get()
        clock.advance(TTL)
    registry.promote("v2", "better")
    path = root / "models" / "v2" / MODEL_FILE
    path.unlink()
    os.mkfifo(path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        loading = pool.submit(champion.get)
        with open(path, "wb") as pipe:
            others = [pool.submit(champion.get) for _ in range(15)]
            pipe.write(model_files[MODEL_FILE])
        results = [call.result(timeout=30) for call in (loading, *others)]
    assert {version for version, _ in results} == {"v2"}
    assert len({id(model) for _, model in results}) == 1
    assert loads(logs, "v2") == 1 and not refusals(logs)


def test_a_loaded_model_prices_at_once_and_its_trees_are_compiled_later(
    registry: Registry, clock: Clock, sample_csv: bytes
) -> None:
    from training.validation import read_records

    stone = feature_matrix(read_records(sample_csv).accepted)[0].tolist()
    later = Champion(registry, TTL, clock, compile_delay=3600)
    _, waiting = later.get()
    assert not waiting.forest.compiled
    soon = Champion(registry, TTL, clock, compile_delay=0)
    _, compiled = soon.get()
    deadline = time.monotonic() + 10
    while not compiled.forest.compiled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert compiled.forest.compiled
    assert compiled.price_row(stone) == waiting.price_row(stone)
