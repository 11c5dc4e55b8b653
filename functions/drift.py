"""Drift: how the stones priced, the prices given and the factors behind them compare with the
champion's training stones.

Each characteristic is a histogram: a measurement (and the price) over bins cut at the deciles
of the training stones' values, a grade over its grades. Two histograms are compared by their
Jensen-Shannon distance, with natural logarithms as `scipy.spatial.distance.jensenshannon`
computes it by default (from 0, the same, to √ln 2 ≈ 0.833, nothing in common), and, for the
measurements and the price, by the population stability index. The reference side is computed
once per champion (`Reference`); the live side is counted by the database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise

import numpy as np

from training.features import GROUPS
from training.record import CATEGORIES, FEATURES

MEASUREMENTS = tuple(name for name in FEATURES if name not in CATEGORIES)
GRADES = tuple(CATEGORIES)
BINNED = (*MEASUREMENTS, "price")
"""What is binned on the training stones' deciles: the measurements and the price given."""
DECILES = tuple(k / 10 for k in range(1, 10))
JS_THRESHOLDS: dict[str, float] = {name: 0.1 for name in (*FEATURES, "price")}
"""The Jensen-Shannon distance past which a characteristic has drifted. Sampling alone gives
about √((bins − 1) / 8n): 0.047 for 10 bins and 500 stones, so a day's traffic of a few
hundred stones stays well under it, and a real shift (a kind of stone the training data hardly
has) goes far over it."""
FACTOR_THRESHOLD = 0.15
"""How far the geometric mean of a characteristic's factor may move (as a share) before the
part of the price it makes is said to have moved."""
MIN_EXPLAINED = 250
"""Fewer stones logged with their factors give a mean factor but no verdict: a carat factor's
log varies by about 1 from stone to stone, so its mean over 250 stones is within ±0.06 of the
truth, under half the threshold."""
MIN_STONES = 500
"""Fewer stones priced in a window give figures but no verdict: their noise is the size of the
threshold."""
PSI_FLOOR = 1e-4
"""The share a bin with no stone is counted as in the PSI, which is infinite otherwise."""


@dataclass(frozen=True)
class Reference:
    """The champion's training stones as histograms: bin edges (measurements and the price
    the champion gives them) and counts per characteristic, and the mean log factor of each
    characteristic of the explanation."""

    version: str
    stones: int
    edges: dict[str, list[float]]
    counts: dict[str, list[int]]
    factor_means: dict[str, float]

    @classmethod
    def of(
        cls, version: str, X: np.ndarray, prices: np.ndarray, log_factors: np.ndarray
    ) -> Reference:
        """From the training stones' feature matrix, the prices the champion gives them and
        their log factors (columns in the order of GROUPS)."""
        columns = {name: X[:, FEATURES.index(name)] for name in FEATURES} | {"price": prices}
        edges = {name: quantile_edges(columns[name]) for name in BINNED}
        counts = {
            name: binned_counts(columns[name], edges[name]).tolist()
            if name in edges
            else np.bincount(columns[name].astype(int), minlength=len(CATEGORIES[name])).tolist()
            for name in (*FEATURES, "price")
        }
        means = dict(zip(GROUPS, log_factors.mean(axis=0).tolist(), strict=True))
        return cls(version, len(X), edges, counts, means)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict) -> Reference:
        return cls(**document)


def quantile_edges(values: np.ndarray) -> list[float]:
    """The distinct deciles of `values`: a value v falls in bin `bisect_right(edges, v)`."""
    return sorted({float(q) for q in np.quantile(values, DECILES)})


def binned_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    bins = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.bincount(bins, minlength=len(edges) + 1)


def js_distance(p: Sequence[float], q: Sequence[float]) -> float | None:
    """The Jensen-Shannon distance of two histograms (each normalised), natural logarithms;
    None when either is empty."""
    p_total, q_total = math.fsum(p), math.fsum(q)
    if p_total <= 0 or q_total <= 0:
        return None
    divergence = 0.0
    for a, b in zip(p, q, strict=True):
        a, b = a / p_total, b / q_total
        m = (a + b) / 2
        divergence += _relative_entropy(a, m) + _relative_entropy(b, m)
    return math.sqrt(max(divergence / 2, 0.0))


def _relative_entropy(a: float, m: float) -> float:
    return a * math.log(a / m) if a > 0 else 0.0


def psi(reference: Sequence[float], live: Sequence[float]) -> float | None:
    """The population stability index of `live` against `reference`: Σ (l − r) ln(l / r) over
    the bins' shares, an empty bin counted as PSI_FLOOR; None when either is empty."""
    r_total, l_total = math.fsum(reference), math.fsum(live)
    if r_total <= 0 or l_total <= 0:
        return None
    index = 0.0
    for r, live_count in zip(reference, live, strict=True):
        r, share = max(r / r_total, PSI_FLOOR), max(live_count / l_total, PSI_FLOOR)
        index += (share - r) * math.log(share / r)
    return index


def bin_labels(name: str, reference: Reference) -> list[str]:
    if name in CATEGORIES:
        return list(CATEGORIES[name])
    edges = [f"{edge:g}" for edge in reference.edges[name]]
    return [f"< {edges[0]}", *(f"{a}–{b}" for a, b in pairwise(edges)), f"≥ {edges[-1]}"]


def characteristic(name: str, reference: Reference, live: Sequence[int]) -> dict:
    """One characteristic's drift: both histograms, the distances, the threshold and whether
    it is crossed (None when too few stones were priced to say)."""
    expected = reference.counts[name]
    stones = sum(live)
    distance = js_distance(expected, live)
    threshold = JS_THRESHOLDS[name]
    return {
        "name": name,
        "kind": "grade" if name in CATEGORIES else "measurement",
        "js_distance": distance,
        "psi": None if name in CATEGORIES else psi(expected, live),
        "threshold": threshold,
        "crossed": None if distance is None or stones < MIN_STONES else distance > threshold,
        "bins": [
            {"label": label, "reference": r / reference.stones, "live": c / stones if stones else 0}
            for label, r, c in zip(bin_labels(name, reference), expected, live, strict=True)
        ],
    }


def factor_drift(reference: Reference, live_means: dict[str, float | None], explained: int) -> list:
    """Per characteristic of the explanation, the geometric mean of its factor on the
    stones priced (the `explained` of them logged with their factors) against the training
    stones': which part of the price moved."""
    result = []
    for group in GROUPS:
        expected, live = reference.factor_means[group], live_means.get(group)
        shift = None if live is None else math.exp(live - expected)
        too_few = shift is None or explained < MIN_EXPLAINED
        moved = None if too_few else abs(shift - 1) > FACTOR_THRESHOLD
        result.append(
            {
                "characteristic": group,
                "reference": math.exp(expected),
                "live": None if live is None else math.exp(live),
                "shift": shift,
                "threshold": FACTOR_THRESHOLD,
                "moved": moved,
            }
        )
    return result
