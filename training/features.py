"""From diamond records to the numbers the model reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter

import numpy as np

from training.record import CATEGORIES, FEATURES

GROUPS: tuple[str, ...] = ("carat", "cut", "color", "clarity", "proportions")
"""The characteristics an explanation speaks of; depth, table and x, y, z are the proportions."""
FEATURE_GROUP: dict[str, int] = {
    name: GROUPS.index(name) if name in GROUPS else GROUPS.index("proportions") for name in FEATURES
}
_CODES = {name: {v: i for i, v in enumerate(values)} for name, values in CATEGORIES.items()}
_COLUMN_CODES = [_CODES.get(name) for name in FEATURES]
_READ_FEATURES = attrgetter(*FEATURES)
_CARAT = FEATURES.index("carat")
# The grade indicators of `linear_terms`: column j is X[:, _GRADE_COLUMNS[j]] == _GRADE_LEVELS[j].
_GRADE_COLUMNS = np.array(
    [FEATURES.index(name) for name, grades in CATEGORIES.items() for _ in grades[1:]]
)
_GRADE_LEVELS = np.array(
    [float(level) for grades in CATEGORIES.values() for level in range(1, len(grades))]
)
_TERM_GROUPS = np.array(
    [GROUPS.index("carat")] * 3
    + [GROUPS.index(name) for name, grades in CATEGORIES.items() for _ in grades[1:]]
)
_TERM_GROUPS.flags.writeable = False
_GRADE_TERM = {
    (feature, level): 3 + j
    for j, (feature, level) in enumerate(
        zip(_GRADE_COLUMNS.tolist(), _GRADE_LEVELS.tolist(), strict=True)
    )
}
"""(grade feature, code) → the column of its indicator in `linear_terms` (none for the worst)."""
_GRADE_FEATURES = [FEATURES.index(name) for name in CATEGORIES]


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


def stone_rows(stones: Iterable[object]) -> list[list[float]]:
    """The rows of `feature_matrix` for stones given as objects holding each feature as an
    attribute (the API's validated stones), as lists: one stone is priced without NumPy."""
    return [
        [
            float(codes[value]) if codes else value
            for codes, value in zip(_COLUMN_CODES, row, strict=True)
        ]
        for row in map(_READ_FEATURES, stones)
    ]


def linear_terms(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The log-linear part's design: a cubic in log carat and one indicator per grade above the
    worst, in a few whole-array steps. Returns the design matrix and the explanation group of
    each column (one read-only array shared by every call)."""
    log_carat = np.log(X[:, _CARAT])
    terms = np.empty((len(X), 3 + len(_GRADE_LEVELS)))
    terms[:, 0] = log_carat
    terms[:, 1] = log_carat * log_carat
    terms[:, 2] = terms[:, 1] * log_carat
    terms[:, 3:] = X[:, _GRADE_COLUMNS] == _GRADE_LEVELS
    return terms, _TERM_GROUPS


def row_terms(x: Sequence[float]) -> list[tuple[int, float]]:
    """One stone's nonzero `linear_terms`, as (column, value) in column order, in plain floats
    computed as the whole-array steps compute them."""
    log_carat = float(np.log(x[_CARAT]))
    square = log_carat * log_carat
    terms = [(0, log_carat), (1, square), (2, square * log_carat)]
    for feature in _GRADE_FEATURES:
        column = _GRADE_TERM.get((feature, x[feature]))
        if column is not None:
            terms.append((column, 1.0))
    return terms
