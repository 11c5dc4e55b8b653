"""A compiled tree ensemble: fast prediction and exact group-Shapley explanations in NumPy.

The trees come from LightGBM, but serving must not import it (its import takes seconds and
pulls in SciPy: `benchmarks/startup.py`): the ensemble is stored as plain arrays in JSON and
evaluated here.

Explanations are exact Shapley values of the *groups* of features (carat, cut, color, clarity,
proportions), with TreeSHAP's path-dependent value function: the expected output when only the
features of a coalition S are known, where a split on an unknown feature averages its two
children weighted by the training rows that went each way. A leaf then adds to E[f | S] its
value times the cover of its path's splits on the unknown groups, if the stone agrees with its
path's splits on the known ones, else nothing. So a leaf's share of each group's Shapley value
depends on the stone only through the set of groups on whose splits the stone leaves the leaf's
path: with five groups that is one of 32 cases, tabulated per leaf once. Explaining stones is
then one walk down all trees, all stones at once, and a table look-up per leaf; the values add
up to the prediction minus the expected value by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from math import factorial, inf, nan

import numpy as np

_CHUNK_ROWS = 256
"""Rows walked through all trees at once: small enough for the node arrays to stay in cache."""
_EXPLAIN_CHUNK_ROWS = 128
"""Rows explained at once: their (rows × nodes) arrays stay in cache."""
_MAX_COMPILED_DEPTH = 90
"""Deeper trees are not compiled into Python (its parser nests at most 200 parentheses)."""
_COMPILED_CHARACTERS = 16_000
"""Source compiled at once by `Forest.compile_rows`: a few milliseconds of the compiler's time
(the longest piece is in `benchmarks/startup.py`'s figures)."""


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
        self._row_function: Callable[..., float] | None = None
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

    @cached_property
    def expected_value(self) -> float:
        """The mean output over the training rows (what the trees give a stone of which
        nothing is known): the base of the Shapley values."""
        return float(self._weighted[:, 0].sum())

    @cached_property
    def _weighted(self) -> np.ndarray:
        """V[leaf, S]: each leaf's value weighted under every coalition S, from the product of
        the covers of the leaf's path's splits on each group (walking up from every leaf at
        once, one level per step). Made on first use: pricing never needs it."""
        n_inner, n_leaves, g = len(self.feature), len(self.leaf_value), self.n_groups
        inner_parent = np.full(n_inner, -1)
        leaf_parent = np.full(n_leaves, -1)
        for children in (self.left, self.right):
            nodes = np.arange(n_inner)
            inner = children >= 0
            inner_parent[children[inner]] = nodes[inner]
            leaf_parent[~children[~inner]] = nodes[~inner]

        leaves = np.arange(n_leaves)
        parent, child_count = leaf_parent, self.leaf_count
        slots = [np.zeros(0, dtype=np.int64)]
        log_ratios = [np.zeros(0)]
        while (active := parent >= 0).any():
            leaves, parent, child_count = leaves[active], parent[active], child_count[active]
            slots.append(leaves * g + self.groups[self.feature[parent]])
            log_ratios.append(np.log(child_count / self.node_count[parent]))
            parent, child_count = inner_parent[parent], self.node_count[parent]
        log_cover = np.bincount(
            np.concatenate(slots), weights=np.concatenate(log_ratios), minlength=n_leaves * g
        )
        # V[leaf, S] = value · Π_{g ∉ S} cover[leaf, g]
        return self.leaf_value[:, None] * np.exp(log_cover.reshape(-1, g) @ (1 - _members(g)).T)

    # -- evaluation -------------------------------------------------------------------------
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Raw output for each row of X: the trees' values added in tree order, as LightGBM
        adds them, so that a row gets the same sum to the last bit on every path."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if len(X) == 1:
            return np.array([self.predict_row(X[0].tolist())])
        if len(X) <= _CHUNK_ROWS:
            return self._predict_chunk(X)
        out = np.empty(len(X))
        for start in range(0, len(X), _CHUNK_ROWS):
            out[start : start + _CHUNK_ROWS] = self._predict_chunk(X[start : start + _CHUNK_ROWS])
        return out

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        """All rows through all trees, one level per step, as a (trees, rows) array of leaves
        whose values are added in tree order: NumPy sums such an array over its first axis one
        tree after the other, but a single row pairwise, so a single row is added by `cumsum`."""
        flat = X.ravel()
        node = np.repeat(self._root_ids[:, None], len(X), axis=1)
        offsets = np.arange(len(X), dtype=np.int64) * X.shape[1]
        for _ in range(self.max_depth):
            step = flat[offsets + self._flat_feature[node]] > self._flat_threshold[node]
            node = self._flat_first_child[node] + step
        values = self._flat_value[node]
        return values.sum(axis=0) if len(X) > 1 else values.cumsum(axis=0)[-1]

    def predict_row(self, x: Sequence[float]) -> float:
        """One row's raw output, in plain floats: the pricing of one stone, the common request.
        NumPy's fixed cost per call (a walk takes dozens) outweighs its speed on one row, so
        once `compile_rows` has run the trees are evaluated as Python code; until then (or for
        trees too deep to compile) the row walks the trees as a batch does."""
        row_function = self._row_function
        if row_function is None:
            return float(self._predict_chunk(np.array([x], dtype=np.float64))[0])
        return row_function(*x)

    @property
    def compiled(self) -> bool:
        """Whether `compile_rows` has made `predict_row` fast."""
        return self._row_function is not None

    def compile_rows(self) -> None:
        """Make `predict_row` fast: the trees as Python functions of a row's values, a nested
        conditional expression per tree added to the total in tree order. The source holds
        only numbers read from the forest's arrays.

        Compiling takes long enough to hold up a price, so a server does it in the background
        after its first price; it is done in pieces of `_COMPILED_CHARACTERS` of source, each
        compiled on its own, so that such a thread holds the interpreter a few milliseconds at
        a time."""
        if self._row_function is not None or self.max_depth > _MAX_COMPILED_DEPTH:
            return
        feature, threshold = self.feature.tolist(), self.threshold.tolist()
        left, right, value = self.left.tolist(), self.right.tolist(), self.leaf_value.tolist()

        def expression(node: int) -> str:
            if node < 0:
                return repr(value[~node])
            goes_right = f"x{feature[node]} > {threshold[node]!r}"
            return f"({expression(right[node])} if {goes_right} else {expression(left[node])})"

        arguments = "".join(f"x{j}, " for j in range(max(feature, default=-1) + 1))
        namespace: dict = {"inf": inf, "nan": nan}
        calls: list[str] = []
        trees = [expression(root) for root in self.roots.tolist()]
        for first, *rest in _in_pieces(trees, _COMPILED_CHARACTERS):
            name, total = f"trees_{len(calls)}", "total, " if calls else ""
            source = "\n    ".join(
                [
                    f"def {name}({total}{arguments}*_):",
                    f"total {'+=' if calls else '='} {first}",
                    *(f"total += {tree}" for tree in rest),
                    "return total",
                ]
            )
            exec(compile(source, "<forest>", "exec"), namespace)
            calls.append(f"total = {name}({total}{arguments})")
        source = "\n    ".join([f"def row_function({arguments}*_):", *calls, "return total"])
        exec(compile(source, "<forest>", "exec"), namespace)
        self._row_function = namespace["row_function"]

    def _compile_layout(self) -> None:
        """Renumber all nodes, leaves included, breadth-first so that the right child of every
        node is its left child + 1; a leaf is a node that loops onto itself. Traversal is then
        `node = first_child[node] + (x[feature[node]] > threshold[node])`, max_depth times.

        Level by level, the children of the inner nodes follow as one block, in their parents'
        order: `_levels` holds, per level, each child's parent and where the block starts and
        stops."""
        n_inner = len(self.feature)
        unified_left = np.where(self.left >= 0, self.left, n_inner + ~self.left)
        unified_right = np.where(self.right >= 0, self.right, n_inner + ~self.right)
        total = n_inner + len(self.leaf_value)
        new_id = np.empty(total, dtype=np.int64)
        frontier = np.where(self.roots >= 0, self.roots, n_inner + ~self.roots)
        new_id[frontier] = np.arange(len(frontier))
        next_id = len(frontier)
        self._levels: list[tuple[np.ndarray, int, int]] = []
        while len(frontier := frontier[frontier < n_inner]):
            parents = np.repeat(new_id[frontier], 2)
            self._levels.append((parents, next_id, next_id + len(parents)))
            children = np.column_stack([unified_left[frontier], unified_right[frontier]]).ravel()
            new_id[children] = next_id + np.arange(len(children))
            next_id += len(children)
            frontier = children
        self.max_depth = len(self._levels)
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
        self._leaf_node = leaves
        self._root_ids = new_id[np.where(self.roots >= 0, self.roots, n_inner + ~self.roots)]

    # -- explanation --------------------------------------------------------------------------
    def shapley(self, X: np.ndarray) -> np.ndarray:
        """Exact Shapley value of each group (columns) for each row of X; each row sums to
        f(x) - expected_value."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        phi = np.empty((len(X), self.n_groups))
        for start in range(0, len(X), _EXPLAIN_CHUNK_ROWS):
            chunk = X[start : start + _EXPLAIN_CHUNK_ROWS]
            index = self._leaf_offsets + self._groups_off_path(chunk)
            for j, table in enumerate(self._leaf_shapley):
                phi[start : start + len(chunk), j] = table[index].sum(axis=1)
        return phi

    def _groups_off_path(self, X: np.ndarray) -> np.ndarray:
        """(rows, leaves): the bit set of the groups on whose splits each stone leaves each
        leaf's path. A node's set is its parent's, plus the parent's group if the stone goes
        the other way there; handed down from the roots one level at a time."""
        feature, threshold, right_child, bit = self._edges
        off = ((X[:, feature] > threshold) != right_child) * bit
        for parents, start, stop in self._levels:
            off[:, start:stop] |= off[:, parents]
        return off[:, self._leaf_node]

    @cached_property
    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per node, the split of its parent that leads to it: feature, threshold, whether the
        node is the right child, and the group's bit (0 for a root, which no split leads to)."""
        total = len(self._flat_feature)
        parent = np.zeros(total, dtype=np.int64)
        right_child = np.zeros(total, dtype=bool)
        for parents, start, stop in self._levels:
            parent[start:stop] = parents
            right_child[start + 1 : stop : 2] = True
        bits = np.min_scalar_type(2**self.n_groups - 1)
        bit = (1 << self.groups[self._flat_feature[parent]]).astype(bits)
        bit[: len(self._root_ids)] = 0  # the roots come first
        return self._flat_feature[parent], self._flat_threshold[parent], right_child, bit

    @cached_property
    def _leaf_offsets(self) -> np.ndarray:
        return np.arange(len(self.leaf_value)) << self.n_groups

    @cached_property
    def _leaf_shapley(self) -> np.ndarray:
        """T[j, leaf · 2^g + m]: the leaf's share of group j's Shapley value for a stone that
        leaves the leaf's path on the groups of m and follows it on the others.

        Such a leaf adds V[leaf, S] to v(S) for the coalitions S that share no group with m. Of
        φ_j = Σ_{S ∌ j} w(|S|) · (v(S ∪ {j}) - v(S)), with w(s) = s! (g - s - 1)! / g!, it
        therefore gets, summed over the S ∌ j that miss m: w(|S|) · (V[S ∪ {j}] - V[S]) if
        j ∉ m, -w(|S|) · V[S] if j ∈ m. Made on first use: pricing never needs it."""
        g = self.n_groups
        coalitions = np.arange(2**g)
        size = _members(g).sum(axis=1)
        w = np.array([factorial(s) * factorial(g - s - 1) / factorial(g) for s in range(g)])
        misses = (coalitions[:, None] & coalitions[None, :]) == 0  # [m, S]
        table = np.empty((g, len(self.leaf_value), 2**g))
        for j in range(g):
            without = coalitions[(coalitions >> j) & 1 == 0]
            counted = (misses[:, without] * w[size[without]]).T
            gain = self._weighted[:, without | (1 << j)] - self._weighted[:, without]
            left_j = (coalitions >> j) & 1 == 1
            table[j] = np.where(left_j, -self._weighted[:, without] @ counted, gain @ counted)
        return table.reshape(g, -1)


def _members(g: int) -> np.ndarray:
    """(2^g, g): whether group j belongs to coalition S, S as a bit set."""
    return (np.arange(2**g)[:, None] >> np.arange(g)[None, :]) & 1


def _in_pieces(sources: list[str], size: int) -> Iterator[list[str]]:
    """Consecutive runs of `sources` of at most `size` characters each (or of one source)."""
    piece: list[str] = []
    length = 0
    for source in sources:
        if piece and length + len(source) > size:
            yield piece
            piece, length = [], 0
        piece.append(source)
        length += len(source)
    if piece:
        yield piece
