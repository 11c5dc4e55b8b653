"""The sampling rule (training/sampling.py): which stones are held out for the gate, and which
the cross-validation runs on once the inventory is large."""

import numpy as np
import pytest

from training.datasets import grown_inventory
from training.evaluation import mape_standard_error, metrics
from training.features import feature_matrix
from training.fingerprints import fingerprints
from training.model import INTERVAL_CARAT_EDGES, PriceModel
from training.record import FEATURES
from training.sampling import HOLDOUT_FRACTION, evaluation_split

from ..training_fixtures import FAST

CARAT = FEATURES.index("carat")


@pytest.fixture(scope="module")
def inventory() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """30,000 stones grown from the public data set: their features, prices, fingerprints."""
    records = grown_inventory(30_000, seed=3)
    return feature_matrix(records), records["price"].to_numpy(float), fingerprints(records)


def split_of(X: np.ndarray, stones: np.ndarray, **options):
    return evaluation_split(stones, X[:, CARAT], **options)


def test_the_same_inventory_always_gives_the_same_split_and_sample(inventory) -> None:
    X, _, stones = inventory
    first, again = split_of(X, stones, sample_size=5000), split_of(X, stones, sample_size=5000)
    for part in ("train", "holdout", "sample"):
        assert np.array_equal(getattr(first, part), getattr(again, part))

    order = np.random.default_rng(0).permutation(len(stones))
    shuffled = split_of(X[order], stones[order], sample_size=5000)
    for part in ("train", "holdout"):
        rows = getattr(shuffled, part)
        assert set(stones[order][rows]) == set(stones[getattr(first, part)])
    # the sample's order is the stones' own, so its folds do not follow the rows' order
    assert np.array_equal(stones[order][shuffled.sample], stones[first.sample])


def test_a_sample_never_holds_a_stone_of_the_gate_hold_out(inventory) -> None:
    X, _, stones = inventory
    for size in (1000, 5000, 30_000):
        split = split_of(X, stones, sample_size=size)
        assert not np.intersect1d(split.train, split.holdout).size
        assert np.array_equal(np.union1d(split.train, split.holdout), np.arange(len(stones)))
        assert np.isin(split.sample, split.train).all()
        assert not np.isin(split.sample, split.holdout).any()
        assert len(split.sample) == min(size, len(split.train))
        assert len(np.unique(split.sample)) == len(split.sample)


def test_the_hold_out_is_a_fifth_of_the_stones_and_a_property_of_each_stone(inventory) -> None:
    X, _, stones = inventory
    split = split_of(X, stones)
    share = len(split.holdout) / len(stones)
    assert abs(share - HOLDOUT_FRACTION) < 3 * np.sqrt(0.2 * 0.8 / len(stones))
    smaller = split_of(X[:10_000], stones[:10_000])
    assert np.array_equal(smaller.holdout, split.holdout[split.holdout < 10_000])
    other_seed = split_of(X, stones, seed=1)
    assert not np.array_equal(other_seed.holdout, split.holdout)


def test_the_sample_keeps_each_carat_band_s_share(inventory) -> None:
    X, _, stones = inventory
    split = split_of(X, stones, sample_size=5000)
    bands = np.searchsorted(np.asarray(INTERVAL_CARAT_EDGES[1:]), X[:, CARAT], side="right")
    for band in range(len(INTERVAL_CARAT_EDGES)):
        expected = 5000 * np.mean(bands[split.train] == band)
        assert abs(np.sum(bands[split.sample] == band) - expected) < 1


def test_a_growing_inventory_changes_the_sample_by_little_more_than_its_new_stones(
    inventory,
) -> None:
    X, _, stones = inventory
    before = split_of(X[:20_000], stones[:20_000], sample_size=5000)
    after = split_of(X[:20_100], stones[:20_100], sample_size=5000)
    kept = set(stones[before.sample]) & set(stones[after.sample])
    # each new stone displaces at most one; the bands' quotas may move by one stone each
    assert len(kept) >= 5000 - 100 - len(INTERVAL_CARAT_EDGES)


def test_a_mape_measured_on_the_sample_lies_within_its_stated_error(inventory) -> None:
    """The standard error the run gives (`mape_standard_error`) bounds how far the MAPE on a
    sample lies from the MAPE on all the training stones: within three of them, for each seed."""
    X, price, stones = inventory
    others = grown_inventory(5000, seed=4)
    model = PriceModel(FAST).fit(feature_matrix(others), others["price"].to_numpy(float))
    for seed in range(5):
        split = split_of(X, stones, seed=seed, sample_size=2000)
        everything = metrics(price[split.train], model.predict(X[split.train]))["mape"]
        predicted = model.predict(X[split.sample])
        on_sample = metrics(price[split.sample], predicted)["mape"]
        error = mape_standard_error(price[split.sample], predicted)
        assert 0.05 < error < 0.5
        assert abs(on_sample - everything) < 3 * error
