import lightgbm
import numpy as np
import pytest

from training.forest import Forest

from .. import shapley_reference


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


def test_predictions_are_lightgbms_to_the_last_bit(fitted) -> None:
    booster, forest, X = fitted
    expected = booster.predict(X[:, 1:])
    np.testing.assert_array_equal(forest.predict(X), expected)
    np.testing.assert_array_equal([forest.predict_row(x) for x in X[:100].tolist()], expected[:100])


def test_one_row_is_priced_alike_before_and_after_the_trees_are_compiled_in_pieces() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 4))
    booster = lightgbm.train(
        {"verbosity": -1, "num_leaves": 31},
        lightgbm.Dataset(X, X[:, 0] * X[:, 1] + np.sin(X[:, 2])),
        num_boost_round=150,
    )
    forest = Forest.from_lightgbm(booster.dump_model(), [0, 1, 2, 3], [0, 1, 2, 3])
    walked = [forest.predict_row(x) for x in X.tolist()]
    assert not forest.compiled
    forest.compile_rows()
    assert forest.compiled
    np.testing.assert_array_equal([forest.predict_row(x) for x in X.tolist()], walked)
    np.testing.assert_array_equal(walked, booster.predict(X))


def test_one_stone_at_a_time_predicts_what_the_batch_walk_does(fitted) -> None:
    _, forest, X = fitted
    one_by_one = np.concatenate([forest.predict(X[i : i + 1]) for i in range(200)])
    np.testing.assert_array_equal(one_by_one, forest.predict(X[:200]))


def test_no_stones_no_predictions(fitted) -> None:
    _, forest, X = fitted
    assert forest.predict(X[:0]).shape == (0,)


def test_json_round_trip_predicts_the_same(fitted) -> None:
    _, forest, X = fitted
    again = Forest.from_dict(forest.to_dict())
    np.testing.assert_array_equal(again.predict(X), forest.predict(X))


def test_shapley_values_add_up_to_the_prediction(fitted) -> None:
    _, forest, X = fitted
    phi = forest.shapley(X[:20])
    np.testing.assert_allclose(
        forest.expected_value + phi.sum(axis=1), forest.predict(X[:20]), rtol=0, atol=1e-12
    )


def test_shapley_values_of_all_stones_at_once_are_those_of_the_per_stone_algorithm(fitted) -> None:
    _, forest, X = fitted
    expected = np.array([shapley_reference.shapley(forest, x) for x in X[:300]])
    np.testing.assert_allclose(forest.shapley(X[:300]), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(forest.shapley(X[7:8]), expected[7:8], rtol=0, atol=1e-12)


def test_group_shapley_equals_lightgbm_treeshap_when_groups_are_single_features(fitted) -> None:
    booster, _, X = fitted
    forest = Forest.from_lightgbm(booster.dump_model(), [0, 1, 2, 3], [0, 1, 2, 3])
    contributions = booster.predict(X[:10, 1:], pred_contrib=True)
    np.testing.assert_allclose(forest.shapley(X[:10, 1:]), contributions[:, :-1], atol=1e-9)
    np.testing.assert_allclose(contributions[:, -1], forest.expected_value, rtol=0, atol=1e-9)


def test_a_group_the_trees_never_use_gets_nothing(fitted) -> None:
    booster, _, X = fitted
    forest = Forest.from_lightgbm(booster.dump_model(), [1, 2, 3, 4], [0, 1, 1, 2, 2])
    [phi] = forest.shapley(X[:1])
    assert phi[0] == 0.0  # column 0, alone in group 0, was not given to the trees


def lopsided_forest() -> Forest:
    """Three trees: 1 or 2 by x0 <= 0.5; a single leaf, 0.25; x1 > 0: 3, else -1 or 0.5 by
    x0 <= -1."""
    return Forest(
        feature=np.array([0, 1, 0]),
        threshold=np.array([0.5, 0.0, -1.0]),
        left=np.array([~0, 2, ~3]),
        right=np.array([~1, ~5, ~4]),
        node_count=np.array([4.0, 4.0, 3.0]),
        leaf_value=np.array([1.0, 2.0, 0.25, -1.0, 0.5, 3.0]),
        leaf_count=np.array([3.0, 1.0, 4.0, 1.0, 2.0, 1.0]),
        roots=np.array([0, ~2, 1]),
        groups=np.array([0, 1, 1]),
    )


def test_trees_that_are_a_single_leaf_or_lopsided_are_explained_too() -> None:
    forest = lopsided_forest()
    X = np.array([[x0, x1, 0.0] for x0 in (-2.0, 0.0, 1.0) for x1 in (-1.0, 1.0)])
    price = [1 + 0.25 - 1, 1 + 0.25 + 3, 1 + 0.25 + 0.5, 1 + 0.25 + 3, 2 + 0.25 + 0.5, 2 + 0.25 + 3]
    np.testing.assert_allclose(forest.predict(X), price, rtol=0, atol=1e-12)
    expected = np.array([shapley_reference.shapley(forest, x) for x in X])
    np.testing.assert_allclose(forest.shapley(X), expected, rtol=0, atol=1e-12)


def test_a_stone_walks_alone_as_among_others_and_goes_left_on_a_threshold() -> None:
    forest = lopsided_forest()
    X = np.array([[x0, x1, 0.0] for x0 in (-2.0, -1.0, 0.0, 0.5, 1.0) for x1 in (-1.0, 0.0, 1.0)])
    price = [
        (1 if x0 <= 0.5 else 2) + 0.25 + (3 if x1 > 0 else -1 if x0 <= -1 else 0.5)
        for x0, x1, _ in X
    ]
    alone = np.concatenate([forest.predict(x[None, :]) for x in X])
    np.testing.assert_array_equal(alone, forest.predict(X))
    np.testing.assert_allclose(alone, price, rtol=0, atol=1e-12)


def test_trees_too_deep_to_compile_into_python_are_walked_for_one_row_too() -> None:
    """A chain of 120 splits on x0 (deeper than Python's parser nests): x0 > k goes on."""
    depth = 120
    forest = Forest(
        feature=np.zeros(depth, dtype=np.int64),
        threshold=np.arange(depth, dtype=float),
        left=np.array([~k for k in range(depth)]),
        right=np.array([*range(1, depth), ~depth]),
        node_count=np.full(depth, 2.0),
        leaf_value=np.arange(depth + 1, dtype=float) / 8,
        leaf_count=np.ones(depth + 1),
        roots=np.array([0]),
        groups=np.array([0]),
    )
    X = np.array([[-1.0], [0.0], [0.5], [57.0], [500.0]])
    forest.compile_rows()
    np.testing.assert_array_equal(
        [forest.predict_row(x) for x in X.tolist()], [0, 0, 1, 57, 120] / np.float64(8)
    )
    np.testing.assert_array_equal(forest.predict(X[3:4]), forest.predict(X)[3:4])


def test_the_last_stone_of_a_batch_alone_in_its_chunk_is_priced_as_when_alone(fitted) -> None:
    _, forest, X = fitted
    batch = forest.predict(X[:257])
    assert batch[256] == forest.predict(X[256:257])[0]
