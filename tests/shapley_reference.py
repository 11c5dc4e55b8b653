"""The per-stone explanation that the vectorised one replaced, kept as the reference it must
match: for one stone, E[f | S] of every coalition S of groups (TreeSHAP's path-dependent value
function), then Shapley's formula over those values as written."""

from __future__ import annotations

from functools import cache
from itertools import combinations
from math import factorial

import numpy as np

from training.features import GROUPS, linear_terms
from training.forest import Forest
from training.model import PriceModel


@cache
def leaf_paths(forest: Forest) -> tuple[np.ndarray, ...]:
    """Every (inner node, went left, leaf, group, child cover / node cover) on every leaf's
    path."""
    parent: dict[int, tuple[int, bool]] = {}
    for node in range(len(forest.feature)):
        parent[int(forest.left[node])] = (node, True)
        parent[int(forest.right[node])] = (node, False)
    rows = []
    for leaf in range(len(forest.leaf_value)):
        child, count = ~leaf, forest.leaf_count[leaf]
        while child in parent:
            node, went_left = parent[child]
            group = forest.groups[forest.feature[node]]
            rows.append((node, went_left, leaf, group, count / forest.node_count[node]))
            child, count = node, forest.node_count[node]
    node, went_left, leaf, group, ratio = (np.array(column) for column in zip(*rows, strict=True))
    return node.astype(int), went_left.astype(bool), leaf.astype(int), group.astype(int), ratio


def coalition_values(forest: Forest, x: np.ndarray) -> np.ndarray:
    """E[f | the groups of S known] for every coalition S (bit j set = group j known)."""
    g, n_leaves = forest.n_groups, len(forest.leaf_value)
    node, went_left, leaf, group, ratio = leaf_paths(forest)
    cover = np.ones((n_leaves, g))
    np.multiply.at(cover, (leaf, group), ratio)
    failed = np.zeros((n_leaves, g), dtype=bool)
    disagree = (x[forest.feature[node]] <= forest.threshold[node]) != went_left
    failed[leaf[disagree], group[disagree]] = True
    known = ((np.arange(2**g)[:, None] >> np.arange(g)[None, :]) & 1).astype(bool)  # [S, j]
    reachable = ~(failed[:, None, :] & known[None, :, :]).any(axis=2)
    weight = np.prod(np.where(known[None, :, :], 1.0, cover[:, None, :]), axis=2)
    return np.einsum("l,ls,ls->s", forest.leaf_value, weight, reachable)


def shapley(forest: Forest, x: np.ndarray) -> np.ndarray:
    values = coalition_values(forest, np.asarray(x, dtype=float))
    g = forest.n_groups
    phi = np.zeros(g)
    for j in range(g):
        others = [k for k in range(g) if k != j]
        for size in range(g):
            weight = factorial(size) * factorial(g - size - 1) / factorial(g)
            for members in combinations(others, size):
                s = sum(1 << k for k in members)
                phi[j] += weight * (values[s | (1 << j)] - values[s])
    return phi


def log_factors(model: PriceModel, x: np.ndarray) -> tuple[float, np.ndarray]:
    """One stone's log base price and log factors, as PriceModel.explain computed them."""
    x = np.asarray(x, dtype=float).reshape(1, -1)
    terms, _ = linear_terms(x)
    linear_phi = np.bincount(
        model.term_groups, weights=model.coef * (terms[0] - model.term_means), minlength=len(GROUPS)
    )
    base = model.intercept + model.term_means @ model.coef + model.forest.expected_value
    return float(base), linear_phi + shapley(model.forest, x[0])
