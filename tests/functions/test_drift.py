"""The distances against SciPy's, and a characteristic's verdict."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from functions.drift import (
    MIN_STONES,
    PSI_FLOOR,
    Reference,
    binned_counts,
    characteristic,
    js_distance,
    psi,
    quantile_edges,
)
from training.features import GROUPS


def reference_psi(reference: np.ndarray, live: np.ndarray) -> float:
    r = np.maximum(reference / reference.sum(), PSI_FLOOR)
    q = np.maximum(live / live.sum(), PSI_FLOOR)
    return float(np.sum((q - r) * np.log(q / r)))


@pytest.mark.parametrize("seed", range(20))
def test_distances_match_scipy_and_the_psi_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 12))
    p = rng.integers(0, 1000, size).astype(float)
    q = rng.integers(0, 1000, size).astype(float)
    p[0], q[-1] = 0, 0
    assert js_distance(p.tolist(), q.tolist()) == pytest.approx(jensenshannon(p, q), abs=1e-12)
    assert psi(p.tolist(), q.tolist()) == pytest.approx(reference_psi(p, q), abs=1e-12)


def test_identical_disjoint_and_empty_histograms() -> None:
    assert js_distance([3, 5, 0], [6, 10, 0]) == 0
    assert js_distance([1, 0], [0, 1]) == pytest.approx(math.sqrt(math.log(2)), abs=1e-15)
    assert js_distance([0, 0], [1, 2]) is None and psi([1, 2], [0, 0]) is None


def test_bins_and_edges_cut_as_the_database_cuts_them() -> None:
    values = np.array([0.3, 0.3, 0.3, 0.5, 0.7, 1.0, 1.0, 2.0, 3.0, 0.3])
    edges = quantile_edges(values)
    assert edges == sorted(set(edges))
    assert binned_counts(np.array([edges[0]]), edges).tolist()[1] == 1
    assert binned_counts(values, edges).sum() == len(values)


def test_a_verdict_needs_enough_stones_and_never_a_nan() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.uniform(0.2, 3, 5000), rng.integers(0, 5, 5000), rng.integers(0, 7, 5000)]
        + [rng.integers(0, 8, 5000)]
        + [rng.uniform(50, 70, 5000) for _ in range(5)]
    )
    reference = Reference.of("v", X, rng.uniform(300, 18000, 5000), np.zeros((5000, len(GROUPS))))
    few = characteristic("carat", reference, [3] + [0] * (len(reference.counts["carat"]) - 1))
    assert few["js_distance"] > few["threshold"] and few["crossed"] is None
    none = characteristic("cut", reference, [0] * 5)
    assert none["js_distance"] is None and none["crossed"] is None and none["psi"] is None
    json.dumps(none, allow_nan=False)
    same = characteristic("carat", reference, reference.counts["carat"])
    assert same["js_distance"] == 0 and same["crossed"] is False
    assert sum(reference.counts["carat"]) == 5000 > MIN_STONES
