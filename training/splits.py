"""How the stones are split for fitting and evaluation: shuffled K folds, a held-out part."""

from __future__ import annotations

import numpy as np


def kfold_indices(n: int, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled K-fold splits as (train, test) index arrays."""
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, folds)
    return [(np.concatenate(parts[:k] + parts[k + 1 :]), parts[k]) for k in range(folds)]


def holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) sorted index arrays; the held-out part is `fraction` of the rows."""
    order = np.random.default_rng(seed + 1).permutation(n)
    cut = max(1, round(n * fraction))
    return np.sort(order[cut:]), np.sort(order[:cut])
