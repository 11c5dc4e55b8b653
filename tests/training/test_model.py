import json

import numpy as np
import pytest

from training.features import GROUPS
from training.model import MODEL_FILE, ModelParams, PriceModel, conformal_offsets

from .. import shapley_reference


def test_explanation_multiplies_back_to_the_price(trained) -> None:
    model, X, _ = trained
    prices = model.predict(X[:50])
    for x, price in zip(X[:50], prices, strict=True):
        explanation = model.explain(x)
        assert list(explanation.factors) == list(GROUPS)
        product = explanation.base_price * np.prod(list(explanation.factors.values()))
        assert product == pytest.approx(price, rel=1e-9)
        assert explanation.price == pytest.approx(price, rel=1e-9)


def test_explanations_of_many_stones_are_those_of_the_per_stone_algorithm(trained) -> None:
    model, X, _ = trained
    base, log_factors = model.log_factors(X[:300])
    for x, row in zip(X[:300], log_factors, strict=True):
        expected_base, expected = shapley_reference.log_factors(model, x)
        assert base == pytest.approx(expected_base, abs=1e-12)
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-12)
    one, many = model.explain(X[5]), model.explanations(X[:300])[5]
    assert (one.labels, one.base_price) == (many.labels, many.base_price)
    assert one.price == pytest.approx(many.price, rel=1e-12)
    assert one.factors == pytest.approx(many.factors, rel=1e-12)


def test_explanation_reads_like_a_sentence(trained) -> None:
    model, X, _ = trained
    lines = model.explain(X[0]).lines()
    assert lines[0].startswith("carat ")
    assert any(line.startswith("clarity ") and ": ×" in line for line in lines)


def test_better_grades_never_lower_the_backbone(trained) -> None:
    model, X, _ = trained
    x = X[0].copy()
    prices = []
    for level in range(7):
        x[2] = level
        prices.append(model.predict(x[None])[0])
    assert prices[-1] > prices[0]


def test_files_round_trip_and_are_plain_json(trained) -> None:
    model, X, _ = trained
    files = model.to_files()
    json.loads(files[MODEL_FILE])
    assert all(b"\x80\x04" not in data[:2] for data in files.values())  # no pickle protocol header
    again = PriceModel.from_files(files)
    np.testing.assert_allclose(again.predict(X), model.predict(X), rtol=1e-12)
    assert again.explain(X[3]).factors == pytest.approx(model.explain(X[3]).factors)


def test_loading_refuses_another_format() -> None:
    with pytest.raises(ValueError, match="is not a"):
        PriceModel.from_files({MODEL_FILE: b'{"format": "something-else"}'})


def test_stones_far_outside_the_training_range_are_named(trained) -> None:
    model, X, _ = trained
    x = X[:1].copy()
    x[0, 0] = 30.0
    [problems] = model.out_of_domain(x)
    assert problems[0][0] == "carat" and "outside the range" in problems[0][1]
    assert model.out_of_domain(X[:5]) == [[]] * 5


def test_conformal_offsets_cover_the_requested_share() -> None:
    residuals = np.random.default_rng(0).normal(size=10_000)
    low, high = conformal_offsets(residuals, 0.9)
    inside = np.mean((residuals >= low) & (residuals <= high))
    assert 0.895 <= inside <= 0.91


@pytest.mark.parametrize(
    "bad",
    [
        {"n_estimators": 0},
        {"learning_rate": 0.0},
        {"coverage": 1.0},
        {"tree_features": ("carat", "weight")},
        {"calibration_folds": 1},
    ],
)
def test_bad_parameters_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        ModelParams(**bad)
