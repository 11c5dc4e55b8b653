"""From diamond records to the numbers the model reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from training.record import CATEGORIES, FEATURES

GROUPS: tuple[str, ...] = ("carat", "cut", "color", "clarity", "proportions")
"""The characteristics an explanation speaks of; depth, table and x, y, z are the proportions."""
FEATURE_GROUP: dict[str, int] = {
    name: GROUPS.index(name) if name in GROUPS else GROUPS.index("proportions") for name in FEATURES
}
_CODES = {name: {v: i for i, v in enumerate(values)} for name, values in CATEGORIES.items()}


def feature_matrix(records: Mapping[str, Sequence]) -> np.ndarray:
    """Columns of FEATURES as floats; grades become their ordinal codes (worst = 0).

    `records` maps each feature name to a column (a DataFrame works, as does a dict of lists);
    values are assumed valid.
    """
    columns = []
    for name in FEATURES:
        column = records[name]
        if name in CATEGORIES:
            codes = _CODES[name]
            columns.append(np.fromiter((codes[str(v)] for v in column), dtype=float))
        else:
            columns.append(np.asarray(column, dtype=float))
    return np.column_stack(columns)


def linear_terms(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The log-linear part's design: a cubic in log carat and one indicator per grade above the
    worst. Returns the design matrix and the explanation group of each column."""
    log_carat = np.log(X[:, FEATURES.index("carat")])
    columns = [log_carat, log_carat**2, log_carat**3]
    groups = [GROUPS.index("carat")] * 3
    for name, values in CATEGORIES.items():
        code = X[:, FEATURES.index(name)]
        for level in range(1, len(values)):
            columns.append((code == level).astype(float))
            groups.append(GROUPS.index(name))
    return np.column_stack(columns), np.array(groups)
