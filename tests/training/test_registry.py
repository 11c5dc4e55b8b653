"""The model registry: versions, their checksums, the champion and run records."""

from __future__ import annotations

import pytest

from training.registry import NotAFigure, Registry, non_finite
from training.storage import LocalStorage


@pytest.fixture()
def registry(tmp_path) -> Registry:
    return Registry(LocalStorage(tmp_path))


def test_a_version_is_listed_once_its_metadata_is_written(registry: Registry) -> None:
    metadata = registry.register("v1", {"model.json": b"{}"}, {"metrics": {"mape": 5.0}})
    assert registry.versions() == ["v1"]
    assert metadata["artifacts"]["model.json"]["bytes"] == 2
    assert registry.artifact("v1", "model.json") == b"{}"


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
