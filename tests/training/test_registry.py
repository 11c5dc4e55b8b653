"""The model registry: versions, their checksums, the champion and run records, on a local
folder and on a bucket of the GCS emulator."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from training.fingerprints import FILE as ROWS_FILE
from training.fingerprints import LEGACY_FILE, training_rows_file
from training.model import MODEL_FILE, PriceModel
from training.params import ModelParams
from training.registry import (
    ChecksumMismatch,
    NotAFigure,
    PromotionConflict,
    Registry,
    UnknownVersion,
    non_finite,
)
from training.storage import Storage


@pytest.fixture()
def registry(storage: Storage) -> Registry:
    return Registry(storage)


@pytest.fixture(scope="module")
def model_files(trained) -> dict[str, bytes]:
    rows = training_rows_file(np.array([0x31, 0xB2], dtype=np.uint64))
    return {MODEL_FILE: trained[0].to_files()[MODEL_FILE], ROWS_FILE: rows}


def register(registry: Registry, *versions: str, params: dict | None = None) -> None:
    for version in versions:
        registry.register(version, {"model.json": b"{}"}, {"params": params or {}})


def test_a_version_is_listed_once_its_metadata_is_written(registry: Registry) -> None:
    metadata = registry.register("v1", {"model.json": b"{}"}, {"metrics": {"mape": 5.0}})
    assert registry.versions() == ["v1"]
    assert metadata["artifacts"]["model.json"]["bytes"] == 2
    assert registry.artifact("v1", "model.json") == b"{}"
    assert registry.metadata("v1") == {**metadata, "metrics": {"mape": 5.0}}


def test_a_version_whose_registration_stopped_before_its_metadata_is_no_version(
    registry: Registry, model_files: dict[str, bytes]
) -> None:
    for name, data in model_files.items():  # what a registration that died midway leaves
        registry.storage.write(f"models/v2/{name}", data)
    assert registry.versions() == []
    for read in (registry.metadata, registry.load):
        with pytest.raises(UnknownVersion):
            read("v2")
    with pytest.raises(UnknownVersion):
        registry.promote("v2", "never")
    assert registry.champion() is None
    registry.register("v2", model_files, {})
    registry.register("v1", model_files, {})
    assert registry.versions() == ["v1", "v2"]


@pytest.mark.parametrize("name", ["nope", "../v1", "", "v1/..", ".hidden", "a\\b"])
def test_a_name_that_is_no_version_is_unknown(registry: Registry, name: str) -> None:
    register(registry, "v1")
    with pytest.raises(UnknownVersion):
        registry.metadata(name)


def test_a_registered_model_loads_and_prices_as_saved(
    registry: Registry, model_files: dict[str, bytes], trained
) -> None:
    registry.register("v1", model_files, {"params": {"seed": 0}})
    model, metadata = registry.load("v1")
    assert metadata["params"] == {"seed": 0}
    _, X, _ = trained
    assert (
        model.predict(X[:50]).tolist()
        == PriceModel.from_files(model_files).predict(X[:50]).tolist()
    )
    stones = np.array([0x31, 0xB2, 0xC3], dtype=np.uint64)
    assert registry.training_rows("v1").seen(stones).tolist() == [True, True, False]
    before = {MODEL_FILE: model_files[MODEL_FILE], LEGACY_FILE: b'["0000000000000031", "b2"]'}
    registry.register("v0", before, {})  # training rows as versions registered them before
    assert registry.training_rows("v0").seen(stones).tolist() == [True, True, False]


@pytest.mark.parametrize("name", [MODEL_FILE, ROWS_FILE])
def test_a_file_changed_after_registration_is_refused(
    registry: Registry, model_files: dict[str, bytes], name: str
) -> None:
    registry.register("v1", model_files, {})
    tampered = model_files[name].replace(b"1", b"2", 1)
    registry.storage.write(f"models/v1/{name}", tampered)
    with pytest.raises(ChecksumMismatch, match=f"models/v1/{name} does not match its checksum"):
        registry.artifact("v1", name)
    read = registry.load if name == MODEL_FILE else registry.training_rows
    with pytest.raises(ChecksumMismatch):
        read("v1")


def test_a_file_that_was_never_registered_is_refused(
    registry: Registry, model_files: dict[str, bytes]
) -> None:
    registry.register("v1", {MODEL_FILE: model_files[MODEL_FILE]}, {})
    registry.storage.write(f"models/v1/{ROWS_FILE}", model_files[ROWS_FILE])
    with pytest.raises(ChecksumMismatch, match="is not a registered file"):
        registry.training_rows("v1")


def test_promotion_is_a_compare_and_swap_on_the_champion(registry: Registry) -> None:
    register(registry, "v1", "v2", "v3")
    assert registry.champion() is None and registry.champion_with_token() == (None, None)
    first = registry.promote("v1", "first model", expected=None)
    assert (first["version"], first["reason"], first["previous"]) == ("v1", "first model", None)
    with pytest.raises(PromotionConflict):
        registry.promote("v2", "decided when there was no champion", expected=None)
    record, token = registry.champion_with_token()
    assert record == first
    second = registry.promote("v2", "better", expected=token)
    assert (second["version"], second["previous"]) == ("v2", "v1")
    with pytest.raises(PromotionConflict):
        registry.promote("v3", "decided on v1", expected=token)
    assert registry.champion() == second
    assert registry.promote("v1", "rollback")["previous"] == "v2"
    with pytest.raises(UnknownVersion):
        registry.promote("v9", "never registered")
    assert registry.champion()["version"] == "v1"


def test_of_promotions_decided_on_the_same_champion_one_wins(registry: Registry) -> None:
    contenders = [f"v{i}" for i in range(2, 8)]
    register(registry, "v1", *contenders)
    registry.promote("v1", "first")
    _, token = registry.champion_with_token()
    start = threading.Barrier(len(contenders))
    won: list[str] = []

    def promote(version: str) -> None:
        start.wait()
        try:
            registry.promote(version, "gate", expected=token)
        except PromotionConflict:
            return
        won.append(version)

    threads = [threading.Thread(target=promote, args=(v,)) for v in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert registry.champion()["version"] == won[0]
    assert registry.champion()["previous"] == "v1"


def test_the_champions_parameters_leave_out_what_this_code_does_not_know(
    registry: Registry,
) -> None:
    assert registry.champion_params() is None
    register(registry, "v1", params={"n_estimators": 20, "seed": 3, "retired_knob": 1})
    registry.promote("v1", "first")
    assert registry.champion_params() == ModelParams(n_estimators=20, seed=3)


def test_runs_are_recorded_replaced_and_listed_in_order(registry: Registry) -> None:
    assert registry.runs() == []
    registry.save_run({"run_id": "20260102T000000Z-bbbbbb", "status": "running"})
    registry.save_run({"run_id": "20260101T000000Z-aaaaaa", "status": "succeeded"})
    registry.save_run({"run_id": "20260102T000000Z-bbbbbb", "status": "failed"})
    assert registry.runs() == ["20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb"]
    assert registry.run("20260102T000000Z-bbbbbb")["status"] == "failed"
    stored = json.loads(registry.storage.read("runs/20260101T000000Z-aaaaaa.json"))
    assert stored == {"run_id": "20260101T000000Z-aaaaaa", "status": "succeeded"}
    with pytest.raises(LookupError):
        registry.run("20260103T000000Z-cccccc")
    assert registry.versions() == []


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_a_metric_that_is_not_a_figure_is_never_registered(registry: Registry, bad) -> None:
    metrics = {"cross_validation": {"mape": 5.0, "by_carat": [{"mape": 3.0}, {"mape": bad}]}}
    with pytest.raises(NotAFigure, match=r"metrics\.cross_validation\.by_carat\.1\.mape"):
        registry.register("v1", {"model.json": b"{}"}, {"metrics": metrics})
    assert registry.versions() == [] and registry.storage.list() == []


def test_non_finite_finds_the_first_number_that_is_no_figure() -> None:
    assert non_finite({"a": [1.0, {"b": 2}], "c": "inf"}) is None
    assert non_finite({"a": [1.0, {"b": float("nan")}]}) == "a.1.b = nan"
    assert non_finite(float("inf")) == "value = inf"


def test_only_a_version_folder_holding_its_metadata_is_a_version(registry: Registry) -> None:
    registry.register("v1", {"model.json": b"{}"}, {"metrics": {"mape": 5.0}})
    registry.storage.write("models/metadata.json", b"{}")
    registry.storage.write("models/v2/extra/metadata.json", b"{}")
    assert registry.versions() == ["v1"]
