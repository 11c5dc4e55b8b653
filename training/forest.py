"""A compiled tree ensemble: fast prediction and exact group-Shapley explanations in NumPy.

The trees come from LightGBM, but serving must not import it (it takes ~2 s to import and pulls
in SciPy): the ensemble is stored as plain arrays in JSON and evaluated here.

Explanations are exact Shapley values of the *groups* of features (carat, cut, color, clarity,
proportions), with TreeSHAP's path-dependent value function: the expected output when only the
features of a coalition S are known, where a split on an unknown feature averages its two
children weighted by the training rows that went each way. With five groups there are only
32 coalitions, so every E[f | S] is computed outright and the Shapley formula is applied as is;
the values add up to the prediction minus the expected value by construction.
"""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np

_CHUNK_ROWS = 256
"""Rows walked through all trees at once: small enough for the node arrays to stay in cache."""


class Forest:
    """The trees of a boosted ensemble as flat arrays.

    Internal nodes are numbered 0..N-1 across all trees; a child index c >= 0 is an internal
    node, c < 0 is the leaf ~c. A stone goes left when x[feature] <= threshold.
    """

    def __init__(
        self,
        feature: np.ndarray,
        threshold: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        node_count: np.ndarray,
        leaf_value: np.ndarray,
        leaf_count: np.ndarray,
        roots: np.ndarray,
        groups: np.ndarray,
    ) -> None:
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.node_count = np.asarray(node_count, dtype=np.float64)
        self.leaf_value = np.asarray(leaf_value, dtype=np.float64)
        self.leaf_count = np.asarray(leaf_count, dtype=np.float64)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.groups = np.asarray(groups, dtype=np.int64)
        self.n_groups = int(self.groups.max()) + 1
        self._compile_paths()
        self._compile_layout()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_lightgbm(cls, dump: dict, columns: list[int], groups: list[int]) -> Forest:
        """Build from `Booster.dump_model()` of trees fitted on X[:, columns]; the compiled
        forest reads the full X, and `groups[j]` is the group of column j of the full X."""
        feature: list[int] = []
        threshold: list[float] = []
        left: list[int] = []
        right: list[int] = []
        node_count: list[float] = []
        leaf_value: list[float] = []
        leaf_count: list[float] = []

        def visit(node: dict) -> int:
            if "leaf_value" in node or "split_index" not in node:
                leaf_value.append(float(node.get("leaf_value", 0.0)))
                leaf_count.append(float(node.get("leaf_count", 1.0)))
                return ~(len(leaf_value) - 1)
            if node.get("decision_type", "<=") != "<=":
                raise ValueError("only numerical '<=' splits are supported")
            index = len(feature)
            feature.append(columns[int(node["split_feature"])])
            threshold.append(float(node["threshold"]))
            node_count.append(float(node["internal_count"]))
            left.append(0)
            right.append(0)
            left[index] = visit(node["left_child"])
            right[index] = visit(node["right_child"])
            return index

        roots = [visit(tree["tree_structure"]) for tree in dump["tree_info"]]
        return cls(
            np.array(feature, dtype=np.int64),
            np.array(threshold),
            np.array(left, dtype=np.int64),
            np.array(right, dtype=np.int64),
            np.array(node_count),
            np.array(leaf_value),
            np.array(leaf_count),
            np.array(roots, dtype=np.int64),
            np.array(groups, dtype=np.int64),
        )

    def to_dict(self) -> dict:
        return {
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "node_count": self.node_count.tolist(),
            "leaf_value": self.leaf_value.tolist(),
            "leaf_count": self.leaf_count.tolist(),
            "roots": self.roots.tolist(),
            "groups": self.groups.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Forest:
        return cls(**{k: np.asarray(v) for k, v in data.items()})

    def _compile_paths(self) -> None:
        """Per leaf: its path's (node, direction) pairs, and the cover products per group.

        Walks up from every leaf at once, one level per step.
        """
        n_inner, n_leaves, g = len(self.feature), len(self.leaf_value), self.n_groups
        inner_parent = np.full(n_inner, -1)
        inner_is_left = np.zeros(n_inner, dtype=bool)
        leaf_parent = np.full(n_leaves, -1)
        leaf_is_left = np.zeros(n_leaves, dtype=bool)
        for children, is_left in ((self.left, True), (self.right, False)):
            nodes = np.arange(n_inner)
            inner = children >= 0
            inner_parent[children[inner]] = nodes[inner]
            inner_is_left[children[inner]] = is_left
            leaf_parent[~children[~inner]] = nodes[~inner]
            leaf_is_left[~children[~inner]] = is_left

        leaves = np.arange(n_leaves)
        parent, went_left, child_count = leaf_parent, leaf_is_left, self.leaf_count
        pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        depth = 0
        while (active := parent >= 0).any():
            depth += 1
            leaves, parent = leaves[active], parent[active]
            went_left, child_count = went_left[active], child_count[active]
            slot = leaves * g + self.groups[self.feature[parent]]
            pairs.append((parent, went_left, slot, np.log(child_count / self.node_count[parent])))
            parent, went_left, child_count = (
                inner_parent[parent],
                inner_is_left[parent],
                self.node_count[parent],
            )
        self.max_depth = depth
        node, left, slot, log_ratio = (
            np.concatenate([p[k] for p in pairs]) if pairs else np.zeros(0) for k in range(4)
        )
        self._pair_node = node.astype(np.int64)
        self._pair_left = left.astype(bool)
        self._pair_slot = slot.astype(np.int64)
        log_cover = np.bincount(self._pair_slot, weights=log_ratio, minlength=n_leaves * g)
        coalitions = np.arange(2**g)
        unknown = 1 - ((coalitions[:, None] >> np.arange(g)[None, :]) & 1)  # (2^g, g)
        # V[leaf, S] = value · Π_{g ∉ S} cover[leaf, g]
        self._weighted = self.leaf_value[:, None] * np.exp(log_cover.reshape(-1, g) @ unknown.T)
        self._coalitions = coalitions
        self.expected_value = float(self._weighted[:, 0].sum())

    # -- evaluation -------------------------------------------------------------------------
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Raw output (sum over trees) for each row of X."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        out = np.empty(len(X))
        for start in range(0, len(X), _CHUNK_ROWS):
            out[start : start + _CHUNK_ROWS] = self._predict_chunk(X[start : start + _CHUNK_ROWS])
        return out

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        flat = X.ravel()
        offsets = (np.arange(len(X), dtype=np.int64) * X.shape[1])[:, None]
        node = np.broadcast_to(self._root_ids, (len(X), len(self.roots))).copy()
        for _ in range(self.max_depth):
            step = flat[offsets + self._flat_feature[node]] > self._flat_threshold[node]
            node = self._flat_first_child[node] + step
        return self._flat_value[node].sum(axis=1)

    def _compile_layout(self) -> None:
        """Renumber all nodes, leaves included, breadth-first so that the right child of every
        node is its left child + 1; a leaf is a node that loops onto itself. Traversal is then
        `node = first_child[node] + (x[feature[node]] > threshold[node])`, max_depth times."""
        n_inner = len(self.feature)
        unified_left = np.where(self.left >= 0, self.left, n_inner + ~self.left)
        unified_right = np.where(self.right >= 0, self.right, n_inner + ~self.right)
        total = n_inner + len(self.leaf_value)
        new_id = np.empty(total, dtype=np.int64)
        frontier = np.where(self.roots >= 0, self.roots, n_inner + ~self.roots)
        new_id[frontier] = np.arange(len(frontier))
        next_id = len(frontier)
        while len(frontier := frontier[frontier < n_inner]):
            children = np.column_stack([unified_left[frontier], unified_right[frontier]]).ravel()
            new_id[children] = next_id + np.arange(len(children))
            next_id += len(children)
            frontier = children
        inner = new_id[:n_inner]
        leaves = new_id[n_inner:]
        self._flat_feature = np.zeros(total, dtype=np.int64)
        self._flat_threshold = np.full(total, np.inf)
        self._flat_first_child = np.empty(total, dtype=np.int64)
        self._flat_value = np.zeros(total)
        self._flat_feature[inner] = self.feature
        self._flat_threshold[inner] = self.threshold
        self._flat_first_child[inner] = new_id[unified_left]
        self._flat_first_child[leaves] = leaves
        self._flat_value[leaves] = self.leaf_value
        self._root_ids = new_id[np.where(self.roots >= 0, self.roots, n_inner + ~self.roots)]

    def coalition_values(self, x: np.ndarray) -> np.ndarray:
        """E[f | features of coalition S known] for every S (bit g set = group g known)."""
        x = np.asarray(x, dtype=np.float64)
        go_left = x[self.feature] <= self.threshold
        disagree = go_left[self._pair_node] != self._pair_left
        failed = np.bincount(
            self._pair_slot[disagree], minlength=len(self.leaf_value) * self.n_groups
        ).reshape(-1, self.n_groups)
        fail_mask = (failed > 0).astype(np.int64) @ (1 << np.arange(self.n_groups))
        reachable = (fail_mask[:, None] & self._coalitions[None, :]) == 0
        return np.einsum("ls,ls->s", self._weighted, reachable)

    def shapley(self, x: np.ndarray) -> np.ndarray:
        """Exact Shapley value of each group for one stone; they sum to f(x) - expected_value."""
        values = self.coalition_values(x)
        g = self.n_groups
        phi = np.zeros(g)
        for j in range(g):
            others = [k for k in range(g) if k != j]
            for size in range(g):
                weight = factorial(size) * factorial(g - size - 1) / factorial(g)
                for members in combinations(others, size):
                    s = sum(1 << k for k in members)
                    phi[j] += weight * (values[s | (1 << j)] - values[s])
        return phi
