import lightgbm
import numpy as np
import pytest

from training.forest import Forest


@pytest.fixture(scope="module")
def fitted() -> tuple[lightgbm.Booster, Forest, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(800, 5))
    y = 2 * X[:, 0] + np.sin(X[:, 1]) + X[:, 2] * X[:, 3] + 0.1 * rng.normal(size=800)
    booster = lightgbm.train(
        {"verbosity": -1, "num_leaves": 15, "max_depth": 6},
        lightgbm.Dataset(X[:, 1:], y),
        num_boost_round=60,
    )
    forest = Forest.from_lightgbm(booster.dump_model(), [1, 2, 3, 4], [0, 0, 1, 2, 2])
    return booster, forest, X


def test_predictions_match_lightgbm(fitted) -> None:
    booster, forest, X = fitted
    np.testing.assert_allclose(forest.predict(X), booster.predict(X[:, 1:]), rtol=0, atol=1e-12)


def test_json_round_trip_predicts_the_same(fitted) -> None:
    _, forest, X = fitted
    again = Forest.from_dict(forest.to_dict())
    np.testing.assert_array_equal(again.predict(X), forest.predict(X))


def test_shapley_values_add_up_to_the_prediction(fitted) -> None:
    _, forest, X = fitted
    for x in X[:20]:
        phi = forest.shapley(x)
        assert forest.expected_value + phi.sum() == pytest.approx(
            forest.predict(x[None])[0], abs=1e-12
        )


def test_group_shapley_equals_lightgbm_treeshap_when_groups_are_single_features(fitted) -> None:
    booster, _, X = fitted
    forest = Forest.from_lightgbm(booster.dump_model(), [0, 1, 2, 3], [0, 1, 2, 3])
    contributions = booster.predict(X[:10, 1:], pred_contrib=True)
    for x, expected in zip(X[:10, 1:], contributions, strict=True):
        np.testing.assert_allclose(forest.shapley(x), expected[:-1], atol=1e-9)
        assert forest.expected_value == pytest.approx(expected[-1], abs=1e-9)


def test_a_group_the_trees_never_use_gets_nothing(fitted) -> None:
    booster, _, X = fitted
    forest = Forest.from_lightgbm(booster.dump_model(), [1, 2, 3, 4], [0, 1, 1, 2, 2])
    assert forest.shapley(X[0])[0] == 0.0  # column 0, alone in group 0, was not given to the trees
