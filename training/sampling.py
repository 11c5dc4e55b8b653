"""Which stones evaluate a model: the gate's hold-out, and the sample cross-validation runs on.

Both are decided by each stone's fingerprint (its content), not by the order or the number of
the rows: the same inventory always gives the same hold-out and the same sample, a stone held
out once is held out in every run, and a stone that joins the inventory changes the sample by
at most the one stone it displaces in its carat band.

- **The hold-out** is one stone in five. The model fitted on every other stone (the held-out
  model) is scored there, and the gate compares it with the champion there, on the held-out
  stones the champion never trained on.
- **The sample** is drawn from the other stones only, so no model that is scored on the
  hold-out ever saw a held-out stone. Up to EVALUATION_SAMPLE training stones it is all of
  them; beyond, it is that many, stratified by carat band (each band keeps its share of the
  training stones, so the interval's per-band calibration keeps its proportions) and, within
  a band, the stones whose fingerprints rank first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.model import INTERVAL_CARAT_EDGES

HOLDOUT_FRACTION = 0.2
EVALUATION_SAMPLE = 20_000
"""Cross-validation runs on at most this many stones; the run's log gives the standard error
of its MAPE (training.evaluation.mape_standard_error)."""
_HOLDOUT_SALT, _SAMPLE_SALT = np.uint64(0x5EED_0F_A11), np.uint64(0x5A3_91E)


@dataclass(frozen=True)
class EvaluationSplit:
    """Row indices: `train` and `holdout` part the stones; `sample` is part of `train`, in a
    fixed order of the stones (so that its folds do not depend on the rows' order)."""

    train: np.ndarray
    holdout: np.ndarray
    sample: np.ndarray


def mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection of uint64 that spreads every input bit over the
    output (NumPy's uint64 arithmetic wraps, as the algorithm needs)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(stones: np.ndarray, salt: np.uint64, seed: int) -> np.ndarray:
    """A number in [0, 1) per stone, fixed by its fingerprint, the salt and the seed."""
    with np.errstate(over="ignore"):
        key = mix(np.asarray(stones, dtype=np.uint64) ^ mix(np.asarray([salt + np.uint64(seed)])))
    return (key >> np.uint64(11)).astype(float) / 2.0**53


def evaluation_split(
    stones: np.ndarray,
    carat: np.ndarray,
    seed: int = 0,
    *,
    holdout_fraction: float = HOLDOUT_FRACTION,
    sample_size: int | None = None,
) -> EvaluationSplit:
    """The hold-out and the evaluation sample (of `sample_size` stones at most, by default
    EVALUATION_SAMPLE) of the stones of these fingerprints and carats."""
    held = _uniform(stones, _HOLDOUT_SALT, seed)
    is_held = held < holdout_fraction
    if not is_held.any() and len(held):
        is_held[np.argmin(held)] = True
    train, holdout = np.flatnonzero(~is_held), np.flatnonzero(is_held)
    rank = _uniform(stones[train], _SAMPLE_SALT, seed)
    band = np.searchsorted(np.asarray(INTERVAL_CARAT_EDGES[1:]), carat[train], side="right")
    counts = np.bincount(band, minlength=len(INTERVAL_CARAT_EDGES))
    quota = _quotas(counts, EVALUATION_SAMPLE if sample_size is None else sample_size)
    chosen = [
        members[np.argsort(rank[members], kind="stable")[:k]]
        for b, k in enumerate(quota)
        if k and len(members := np.flatnonzero(band == b))
    ]
    picked = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.intp)
    return EvaluationSplit(train, holdout, train[picked[np.argsort(rank[picked], kind="stable")]])


def _quotas(counts: np.ndarray, size: int) -> np.ndarray:
    """How many stones of each band the sample takes: all while there are at most `size`, else
    `size` in proportion to the bands' counts (largest remainders round up)."""
    total = int(counts.sum())
    if total <= size:
        return counts
    share = counts * size / total
    quota = np.floor(share).astype(int)
    short = size - int(quota.sum())
    quota[np.argsort(quota - share, kind="stable")[:short]] += 1
    return quota
