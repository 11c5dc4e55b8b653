"""Folds and the held-out split, checked against scikit-learn's KFold: the same partition of a
shuffled order into contiguous folds, the first n % k of them one stone larger."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold

from training.splits import holdout_split, kfold_indices

SIZES = [(10, 2), (11, 3), (1_000, 5), (1_003, 7), (53_940, 5), (5, 5)]


@pytest.mark.parametrize(("n", "folds"), SIZES)
@pytest.mark.parametrize("seed", [0, 7])
def test_folds_are_those_of_kfold_on_the_shuffled_order(n: int, folds: int, seed: int) -> None:
    order = np.random.default_rng(seed).permutation(n)
    ours = kfold_indices(n, folds, seed)
    theirs = list(KFold(n_splits=folds).split(order))
    assert len(ours) == len(theirs) == folds
    for (train, test), (their_train, their_test) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(test, order[their_test])
        np.testing.assert_array_equal(train, order[their_train])


@pytest.mark.parametrize(("n", "folds"), SIZES)
def test_every_stone_is_tested_once_and_trained_on_in_every_other_fold(n: int, folds: int) -> None:
    splits = kfold_indices(n, folds, seed=3)
    tested = np.concatenate([test for _, test in splits])
    np.testing.assert_array_equal(np.sort(tested), np.arange(n))
    for train, test in splits:
        assert len(np.intersect1d(train, test)) == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    sizes = [len(test) for _, test in splits]
    assert sizes == [n // folds + 1] * (n % folds) + [n // folds] * (folds - n % folds)


def test_folds_depend_on_the_seed_alone() -> None:
    first, again = kfold_indices(500, 5, 11), kfold_indices(500, 5, 11)
    for (a_train, a_test), (b_train, b_test) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a_train, b_train)
        np.testing.assert_array_equal(a_test, b_test)
    assert any(
        not np.array_equal(a, b)
        for (_, a), (_, b) in zip(first, kfold_indices(500, 5, 12), strict=True)
    )


@pytest.mark.parametrize(
    ("n", "fraction", "held_out"),
    [(1_000, 0.2, 200), (11, 0.2, 2), (3, 0.1, 1), (53_940, 0.2, 10_788)],
)
def test_the_held_out_part_is_its_share_of_the_stones_and_apart(
    n: int, fraction: float, held_out: int
) -> None:
    train, test = holdout_split(n, fraction, seed=0)
    assert len(test) == held_out
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)


def test_the_held_out_part_depends_on_the_seed_and_is_no_fold() -> None:
    _, test = holdout_split(1_000, 0.2, seed=4)
    np.testing.assert_array_equal(test, holdout_split(1_000, 0.2, seed=4)[1])
    assert not np.array_equal(test, holdout_split(1_000, 0.2, seed=5)[1])
    folds = [np.sort(fold) for _, fold in kfold_indices(1_000, 5, seed=4)]
    assert not any(np.array_equal(test, fold) for fold in folds)
