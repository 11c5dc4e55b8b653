import json
from itertools import pairwise

import numpy as np
import pytest

from training.features import GROUPS, linear_terms
from training.model import MODEL_FILE, ModelParams, PriceModel, conformal_offsets
from training.record import CATEGORIES, FEATURES

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
    """Every step up every grade scale (each adjacent pair of grades of cut, color and clarity)
    raises the backbone's log price, or leaves it, for each stone of the sample."""
    model, X, _ = trained
    for name, grades in CATEGORIES.items():
        column = FEATURES.index(name)
        for level, (worse, better) in enumerate(pairwise(grades)):
            at_worse, at_better = X.copy(), X.copy()
            at_worse[:, column], at_better[:, column] = level, level + 1
            step = backbone(model, at_better) - backbone(model, at_worse)
            assert step.min() >= 0, f"{name} {better} prices below {worse}: {step.min():.4f}"


def backbone(model: PriceModel, X: np.ndarray) -> np.ndarray:
    """The log-linear part of the model's log price, without the trees."""
    terms, _ = linear_terms(X)
    return model.intercept + terms @ model.coef


def test_files_round_trip_and_are_plain_json(trained) -> None:
    model, X, _ = trained
    files = model.to_files()
    json.loads(files[MODEL_FILE])
    assert all(b"\x80\x04" not in data[:2] for data in files.values())  # no pickle protocol header
    again = PriceModel.from_files(files)
    np.testing.assert_allclose(again.predict(X), model.predict(X), rtol=1e-12)
    assert again.explain(X[3]).factors == pytest.approx(model.explain(X[3]).factors)


def _with_interval(files: dict[str, bytes], carat_edges: list, log_offsets: list) -> dict:
    """`files` with the interval's stored carat edges and log offsets replaced."""
    document = json.loads(files[MODEL_FILE])
    document["interval"].update(carat_edges=carat_edges, log_offsets=log_offsets)
    return {**files, MODEL_FILE: json.dumps(document).encode()}


def test_a_loaded_model_bands_stones_by_the_carat_edges_it_was_saved_with(trained) -> None:
    model, X, _ = trained
    edges, offsets = [0.0, 0.3, 0.6], [[-0.1, 0.1], [-0.2, 0.2], [-0.3, 0.3]]
    loaded = PriceModel.from_files(_with_interval(model.to_files(), edges, offsets))
    stones = X[:3].copy()
    stones[:, 0] = [0.25, 0.45, 0.9]
    price = loaded.predict(stones)
    low, high = loaded.interval(stones, price)
    np.testing.assert_allclose(low / price, np.exp([-0.1, -0.2, -0.3]), rtol=1e-15)
    np.testing.assert_allclose(high / price, np.exp([0.1, 0.2, 0.3]), rtol=1e-15)
    for stone, expected in zip(stones.tolist(), zip(price, low, high, strict=True), strict=True):
        assert loaded.price_row(stone) == expected
    stored = json.loads(loaded.to_files()[MODEL_FILE])["interval"]
    assert (stored["carat_edges"], stored["log_offsets"]) == (edges, offsets)


@pytest.mark.parametrize(
    ("carat_edges", "log_offsets", "problem"),
    [
        ([0.0, 0.5], [[-0.1, 0.1]], "2 carat bands but it has offsets for 1"),
        ([0.0, 1.0, 0.5], [[-0.1, 0.1]] * 3, "not increasing"),
        ([0.0, 0.5, 0.5], [[-0.1, 0.1]] * 3, "not increasing"),
        ([], [], "no carat band"),
        ([0.0, "half"], [[-0.1, 0.1]] * 2, "not numbers"),
        ([0.0, float("nan")], [[-0.1, 0.1]] * 2, "not numbers"),
    ],
)
def test_loading_refuses_carat_edges_that_do_not_band_the_interval(
    trained, carat_edges: list, log_offsets: list, problem: str
) -> None:
    files = _with_interval(trained[0].to_files(), carat_edges, log_offsets)
    with pytest.raises(ValueError, match=f"carat edges.*{problem}"):
        PriceModel.from_files(files)


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
