"""The metrics a run reports, checked against scikit-learn's to 1e-12: MAE and RMSE in dollars,
MAPE in %, R²; the interval's coverage and median width by their definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    r2_score,
    root_mean_squared_error,
)

from training.evaluation import CARAT_BANDS, by_carat_band, metrics

RELATIVE = 1e-12


def prices(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Appraised prices and predictions off by up to about 30% either way."""
    rng = np.random.default_rng(seed)
    price = np.exp(rng.uniform(np.log(326), np.log(18_823), n))
    return price, price * np.exp(rng.normal(0, 0.12, n))


def assert_scikit_learn_metrics(price: np.ndarray, predicted: np.ndarray) -> None:
    ours = metrics(price, predicted)
    assert set(ours) == {"n", "mae", "mape", "rmse", "r2"} and ours["n"] == len(price)
    assert ours["mae"] == pytest.approx(mean_absolute_error(price, predicted), rel=RELATIVE)
    assert ours["mape"] == pytest.approx(
        100 * mean_absolute_percentage_error(price, predicted), rel=RELATIVE
    )
    assert ours["rmse"] == pytest.approx(root_mean_squared_error(price, predicted), rel=RELATIVE)
    assert ours["r2"] == pytest.approx(r2_score(price, predicted), rel=RELATIVE)


@pytest.mark.parametrize(("n", "seed"), [(2, 0), (7, 1), (1_000, 2), (53_940, 3)])
def test_metrics_are_those_of_scikit_learn(n: int, seed: int) -> None:
    price, predicted = prices(n, seed)
    assert_scikit_learn_metrics(price, predicted)


def test_metrics_of_a_model_on_its_stones_are_those_of_scikit_learn(trained) -> None:
    model, X, price = trained
    assert_scikit_learn_metrics(price, model.predict(X))


def test_exact_predictions_score_zero_errors_and_an_r2_of_one() -> None:
    price = np.array([326.0, 1_000.0, 18_823.0])
    assert metrics(price, price) == {"n": 3, "mae": 0.0, "mape": 0.0, "rmse": 0.0, "r2": 1.0}


def test_coverage_is_the_share_inside_the_interval_bounds_included() -> None:
    price = np.array([100.0, 200.0, 300.0, 400.0])
    predicted = np.array([110.0, 200.0, 250.0, 400.0])
    low = np.array([90.0, 200.0, 200.0, 410.0])
    high = np.array([130.0, 220.0, 299.0, 500.0])
    result = metrics(price, predicted, low, high)
    assert result["coverage"] == 0.5
    widths = (high - low) / predicted * 100
    assert result["median_relative_width"] == pytest.approx(np.median(widths), rel=RELATIVE)
    assert "coverage" not in metrics(price, predicted, low, None)


def test_bands_split_the_stones_by_carat_and_score_each_alone() -> None:
    price, predicted = prices(2_000, 5)
    carat = np.random.default_rng(6).uniform(0.2, 3.0, 2_000)
    rows = by_carat_band(carat, price, predicted)
    assert [row["band"] for row in rows] == [
        "0–0.5 ct",
        "0.5–1 ct",
        "1–1.5 ct",
        "1.5–2 ct",
        "≥ 2 ct",
    ]
    assert sum(row["n"] for row in rows) == 2_000
    for row, (low, high) in zip(rows, CARAT_BANDS, strict=True):
        inside = (carat >= low) & (carat < high)
        assert row["n"] == inside.sum()
        assert row["mape"] == pytest.approx(
            100 * mean_absolute_percentage_error(price[inside], predicted[inside]), rel=RELATIVE
        )
