"""The pricing core: prices, intervals, explanations and the problems of the stones refused."""

import numpy as np
import pytest

from training.appraisal import appraise
from training.record import CATEGORIES, FEATURES

CARAT, DEPTH, X_MM, Y_MM, Z_MM = (FEATURES.index(n) for n in ("carat", "depth", "x", "y", "z"))


def refusable(X: np.ndarray) -> np.ndarray:
    """Five stones: the second weighs three times what its size allows, the fourth states a
    depth ten points off its dimensions, the fifth is eight times the weight of any stone
    trained on (size scaled alike, so its geometry holds)."""
    stones = X[:5].copy()
    stones[1, CARAT] *= 3
    stones[3, DEPTH] += 10
    stones[4, CARAT] *= 8 * X[:, CARAT].max() / stones[4, CARAT]
    stones[4, [X_MM, Y_MM, Z_MM]] *= np.cbrt(stones[4, CARAT] / X[4, CARAT])
    return stones


def test_priced_stones_get_their_price_inside_the_interval(trained) -> None:
    model, X, _ = trained
    appraisal = appraise(model, X[:200])
    assert not appraisal.refused and appraisal.problems == [[]] * 200
    np.testing.assert_array_equal(appraisal.price, model.predict(X[:200]))
    assert np.all((appraisal.low < appraisal.price) & (appraisal.price < appraisal.high))
    assert appraisal.coverage == model.params.coverage


def test_columns_rows_and_matrix_are_appraised_alike(trained) -> None:
    model, X, _ = trained
    columns = {
        name: [CATEGORIES[name][int(v)] for v in X[:20, j]] if name in CATEGORIES else X[:20, j]
        for j, name in enumerate(FEATURES)
    }
    by_matrix = appraise(model, X[:20])
    for other in (appraise(model, columns), appraise(model, X[:20].tolist())):
        np.testing.assert_array_equal(other.estimates, by_matrix.estimates)
    np.testing.assert_array_equal(
        appraise(model, [X[3].tolist()]).estimates, by_matrix.estimates[3:4]
    )


def test_one_stone_is_priced_as_it_is_among_many(trained) -> None:
    model, X, _ = trained
    many = appraise(model, X[:50], explain=True)
    for i in (0, 17, 49):
        one = appraise(model, X[i : i + 1], explain=True)
        assert one.price[0] == many.price[i]
        assert (one.low[0], one.high[0]) == (many.low[i], many.high[i])
        [alone], among = one.explanations(), many.explanations()[i]
        assert (alone.labels, alone.base_price) == (among.labels, among.base_price)
        assert alone.factors == pytest.approx(among.factors, rel=1e-12)


def test_a_stone_alone_is_priced_in_plain_floats_to_the_last_bit_of_the_batch(trained) -> None:
    """Alone, a plausible stone is priced without NumPy arrays; among 300 (NumPy, and in the
    fitting process LightGBM's own predictor for the trees) it must get the same bits. Carats
    on the interval's band edges included, and a one-carat stone of the worst grades, whose
    backbone terms are all zero."""
    model, X, _ = trained
    on_edges = [int(np.flatnonzero(X[:, CARAT] == carat)[0]) for carat in (0.5, 1.0, 1.5)]
    stones = np.vstack([X[:300], X[on_edges], X[on_edges[1]]])
    stones[-1, [FEATURES.index(name) for name in CATEGORIES]] = 0
    many = appraise(model, stones)
    assert not many.refused
    for i, stone in enumerate(stones):
        one = appraise(model, stone[None, :])
        assert (one.price[0], one.low[0], one.high[0]) == (many.price[i], many.low[i], many.high[i])


def test_a_stone_refused_alone_gets_the_problems_it_gets_among_others(trained) -> None:
    model, X, _ = trained
    stones = refusable(X)
    among = appraise(model, stones).problems
    alone = [appraise(model, stone[None, :]).problems[0] for stone in stones]
    assert alone == among


def test_refused_stones_name_the_field_and_leave_the_others_priced(trained) -> None:
    model, X, _ = trained
    stones = refusable(X)
    appraisal = appraise(model, stones, explain=True)

    assert appraisal.refused
    assert appraisal.priced.tolist() == [True, False, True, False, False]
    fields = [[name for name, _ in found] for found in appraisal.problems]
    assert fields == [[], ["carat"], [], ["depth"], ["carat", "x", "y", "z"]]
    assert "describe a stone of about" in appraisal.problems[1][0][1]
    assert "disagrees with" in appraisal.problems[3][0][1]
    assert "outside the range the model was trained on" in appraisal.problems[4][0][1]

    for values in (appraisal.price, appraisal.low, appraisal.high):
        assert np.isnan(values[~appraisal.priced]).all()
    alone = appraise(model, stones[appraisal.priced])
    np.testing.assert_array_equal(appraisal.price[appraisal.priced], alone.price)
    assert len(appraisal.explanations()) == 2


def test_explanations_multiply_back_to_the_prices(trained) -> None:
    model, X, _ = trained
    appraisal = appraise(model, X[:100], explain=True)
    np.testing.assert_allclose(
        np.exp(appraisal.base + appraisal.log_factors.sum(axis=1)), appraisal.price, rtol=1e-12
    )
    for breakdown, price in zip(appraisal.explanations(), appraisal.price, strict=True):
        product = breakdown.base_price * np.prod(list(breakdown.factors.values()))
        assert product == pytest.approx(price, rel=1e-9)


def test_explanations_need_explain(trained) -> None:
    model, X, _ = trained
    with pytest.raises(ValueError, match="without explain"):
        appraise(model, X[:3]).explanations()
