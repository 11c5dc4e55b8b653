"""Unit tests for the notebook's analysis helpers, on small synthetic stones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from notebooks.analysis import (
    FAULT_KINDS,
    binned_medians,
    carat_adjusted,
    errors_by,
    fault_kind,
    fit_power_law,
    grade_effects,
    learning_curve,
    log_factors,
    plot_waterfall,
    power_law,
    untuned_boosting_raw_price,
    waterfall_steps,
    worst_predictions,
)
from training.comparison import first_attempt
from training.features import GROUPS, feature_matrix
from training.model import ModelParams, PriceBreakdown, PriceModel
from training.record import CATEGORIES, COLORS


def stones(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic stones: price = 4000 carat^1.8 1.1^(color code), a little noise."""
    rng = np.random.default_rng(seed)
    carat = rng.uniform(0.25, 2.5, n).round(2)
    side = (carat / 0.0061) ** (1 / 3)
    frame = pd.DataFrame(
        {
            "carat": carat,
            "cut": rng.choice(CATEGORIES["cut"], n),
            "color": rng.choice(COLORS, n),
            "clarity": rng.choice(CATEGORIES["clarity"], n),
            "depth": rng.normal(61.8, 1.0, n).round(1),
            "table": rng.normal(57, 2, n).round(0),
            "x": side.round(2),
            "y": side.round(2),
            "z": (side * 0.618).round(2),
        }
    )
    code = np.array([COLORS.index(c) for c in frame["color"]])
    price = 4000 * carat**1.8 * 1.1**code * np.exp(rng.normal(0, 0.05, n))
    return frame, price


def test_carat_adjusted_removes_the_carat_curve():
    carat = np.linspace(0.3, 3, 50)
    assert np.allclose(carat_adjusted(carat, 3000 * carat**1.7), 0, atol=1e-9)
    doubled = np.r_[3000 * carat**1.7, 6000 * carat**1.7]
    adjusted = carat_adjusted(np.r_[carat, carat], doubled)
    assert np.allclose(adjusted[50:] - adjusted[:50], np.log(2))


def test_grade_effects_corrects_for_bigger_stones_in_worse_grades():
    # Grade "bad" costs half as much at equal carat but comes in bigger stones.
    rng = np.random.default_rng(1)
    carat = np.r_[rng.uniform(0.3, 1.5, 200), rng.uniform(0.8, 2.5, 200)]
    grade = ["good"] * 200 + ["bad"] * 200
    price = 4000 * carat**1.8 * np.r_[np.ones(200), 0.5 * np.ones(200)]
    table = grade_effects(carat, grade, price, order=["bad", "good", "unseen"])
    assert list(table.index) == ["bad", "good", "unseen"]
    assert table.loc["bad", "stones"] == 200
    assert table.loc["good", "raw_ratio"] < 1  # the misleading raw view: "bad" looks dearer
    assert table.loc["bad", "at_equal_carat"] == 1
    assert table.loc["good", "at_equal_carat"] == pytest.approx(2.0)
    assert np.isnan(table.loc["unseen", "at_equal_carat"])


def test_binned_medians_per_grade_and_band():
    carat = np.array([0.3, 0.35, 0.32, 1.1, 1.2, 1.3, 0.31])
    grade = ["A", "A", "A", "A", "A", "A", "B"]
    price = np.array([500, 700, 600, 5000, 6000, 7000, 900.0])
    table = binned_medians(carat, grade, price, edges=[0, 1, 2], min_stones=2)
    assert table[["grade", "price", "stones"]].values.tolist() == [["A", 600, 3], ["A", 6000, 3]]
    assert table["carat"].tolist() == pytest.approx([0.32, 1.2])


def test_errors_by_group_uses_the_project_metrics():
    price = np.array([100, 200, 100, 400.0])
    predicted = np.array([110, 180, 100, 400.0])
    table = errors_by(["a", "a", "b", "b"], price, predicted, order=["b", "a", "missing"])
    assert list(table.index) == ["b", "a"]
    assert table.loc["a", "mape"] == pytest.approx(10.0)
    assert table.loc["b", "mae"] == 0


def test_worst_predictions_ranks_by_ratio():
    records = pd.DataFrame({"carat": [0.3, 0.5, 1.0, 2.0]})
    table = worst_predictions(
        records, np.array([100, 100, 100, 100.0]), np.array([101, 50, 190, 99.0]), k=2
    )
    assert table["carat"].tolist() == [0.5, 1.0]
    assert table["ratio"].tolist() == [0.5, 1.9]


def test_learning_curve_error_falls_with_more_stones():
    records, price = stones(600)
    X = feature_matrix(records)
    curve = learning_curve(X, price, first_attempt, sizes=[15, 400], folds=3, repeats=2)
    assert len(curve) == 2 * 3 * 2
    assert set(curve["n_train"]) == {15, 400}
    means = curve.groupby("n_train")["mape"].mean()
    assert means[400] < means[15]
    clipped = learning_curve(X, price, first_attempt, sizes=[10_000], folds=3)
    assert set(clipped["n_train"]) == {400}


def test_power_law_round_trip():
    n = np.array([100, 200, 400, 800, 1600])
    a, b, c = fit_power_law(n, 50 * n**-0.3)
    assert (a, b, c) == (pytest.approx(50), pytest.approx(0.3), 0.0)
    assert power_law(3200, a, b) == pytest.approx(50 * 3200**-0.3)


def test_power_law_with_a_floor():
    n = np.array([250, 500, 1000, 2000, 4000, 8000])
    error = 6.0 + 100 * n**-0.6
    a, b, c = fit_power_law(n, error, floor=True)
    assert c == pytest.approx(6.0, abs=0.02)
    assert b == pytest.approx(0.6, abs=0.02)
    assert power_law(16_000, a, b, c) == pytest.approx(6.0 + 100 * 16_000**-0.6, abs=0.01)
    pure = fit_power_law(n, error)
    assert power_law(16_000, *pure) < power_law(16_000, a, b, c)  # no floor: optimistic


def test_waterfall_steps_multiply_from_base_to_price():
    explanation = PriceBreakdown(
        price=1000 * 2 * 0.5 * 1.25,
        base_price=1000,
        factors={"carat": 2.0, "color": 0.5, "clarity": 1.25},
        labels={"carat": "carat 1 ct", "color": "color J", "clarity": "clarity VS1"},
    )
    steps = waterfall_steps(explanation)
    assert steps["label"].tolist() == ["carat 1 ct", "color J", "clarity VS1"]
    assert steps["start"].tolist() == [1000, 2000, 1000]
    assert steps["end"].iloc[-1] == pytest.approx(explanation.price)


def test_plot_waterfall_draws_one_bar_per_step():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    explanation = PriceBreakdown(
        1500.0, 1000.0, {"carat": 3.0, "color": 0.5}, {"carat": "carat 1 ct"}
    )
    ax = plot_waterfall(explanation)
    assert len(ax.patches) == 4  # base, two factors, price
    plt.close(ax.figure)


def test_log_factors_sum_to_the_log_price_over_base():
    pytest.importorskip("lightgbm")
    records, price = stones(300)
    X = feature_matrix(records)
    model = PriceModel(ModelParams(n_estimators=20, calibration_folds=2)).fit(X, price)
    factors = log_factors(model, X[:5])
    assert list(factors.columns) == list(GROUPS)
    base = np.log(model.explain(X[0]).base_price)
    assert np.allclose(base + factors.sum(axis=1), model.predict_log(X[:5]), atol=1e-6)


def test_fault_kind_names_what_the_validator_found():
    assert fault_kind("price: must be greater than 0, got -1") == FAULT_KINDS[0]
    assert (
        fault_kind("x: must be greater than 0, got 0; z: must be greater than 0, got 0")
        == (FAULT_KINDS[1])
    )
    assert fault_kind("row: exact duplicate of line 12") == FAULT_KINDS[2]
    slip = "carat: dimensions 1 by 1 by 1 mm describe a stone of about 0.01 ct, not 1 ct"
    assert fault_kind(slip) == FAULT_KINDS[3]
    assert fault_kind("depth: stated depth 44% disagrees with 65.7% computed") == FAULT_KINDS[3]
    assert fault_kind("cut: unknown cut 'Superb'") == FAULT_KINDS[4]


def test_fault_kind_on_a_real_validation():
    from training.validation import read_records

    csv = (
        "carat,cut,color,clarity,depth,table,price,x,y,z\n"
        "1.0,Good,F,SI1,64.1,60,-1,6.25,6.19,3.99\n"
        "2.25,Premium,H,SI2,62.8,59,18034,0,0,0\n"
        "1.41,Ideal,H,VS1,60.7,56,9752,7.31,7.22,1.41\n"
        "0.31,Ideal,G,VS2,61.7,57,872,4.33,4.36,2.68\n"
        "0.31,Ideal,G,VS2,61.7,57,872,4.33,4.36,2.68\n"
    )
    rejected = read_records(csv.encode()).rejected
    kinds = [fault_kind(r) for r in rejected["reason"]]
    assert kinds == [FAULT_KINDS[0], FAULT_KINDS[1], FAULT_KINDS[3], FAULT_KINDS[2]]


def test_raw_price_boosting_predicts_positive_prices():
    pytest.importorskip("lightgbm")
    records, price = stones(200)
    X = feature_matrix(records)
    predicted = untuned_boosting_raw_price(X, price)(X)
    assert predicted.shape == price.shape
    assert (predicted >= 1).all()
