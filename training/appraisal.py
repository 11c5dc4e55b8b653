"""Appraising stones with a model: price, 90% interval and, on request, the explanation.

A stone whose measurements contradict each other, or that lies far outside what the model was
trained on, gets its problems instead of a price, each naming the field: never an absurd price.
This is the one pricing core; the HTTP function and `diamonds price` each turn its answer into
their own form (a response or a 422; a spreadsheet row with its error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from training.features import feature_matrix
from training.geometry import MEASURES, FieldProblem, implausibilities, plausible
from training.model import PriceBreakdown, PriceModel
from training.record import FEATURES

_MEASURE_COLUMNS = [FEATURES.index(name) for name in MEASURES]
_ONE_PRICED = np.ones(1, dtype=bool)
_ONE_PRICED.flags.writeable = False


@dataclass(frozen=True)
class Appraisal:
    """One entry per stone in each array (a row in `estimates`), NaN where the stone was
    refused; `problems` holds each stone's (field, message) pairs, empty for a priced stone."""

    estimates: np.ndarray
    """(stones, 3): each stone's price and its interval's low and high."""
    coverage: float
    problems: list[list[FieldProblem]]
    priced: np.ndarray
    """The mask of the stones that were priced."""
    base: float | None = None
    """With `explain`: the log of the base price."""
    log_factors: np.ndarray | None = None
    """With `explain`: each priced stone's log factor per characteristic (GROUPS' order)."""
    X: np.ndarray | None = None
    """The priced stones' features, which the explanations' labels read."""

    @property
    def price(self) -> np.ndarray:
        return self.estimates[:, 0]

    @property
    def low(self) -> np.ndarray:
        return self.estimates[:, 1]

    @property
    def high(self) -> np.ndarray:
        return self.estimates[:, 2]

    @property
    def refused(self) -> bool:
        """Whether any stone was refused: a stone is priced exactly when it has no problem."""
        return any(self.problems)

    def explanations(self) -> list[PriceBreakdown]:
        """The priced stones' explanations (computed with `explain`)."""
        if self.base is None or self.log_factors is None or self.X is None:
            raise ValueError("appraised without explain")
        return PriceModel.explanations_from(self.X, self.base, self.log_factors)


def appraise(
    model: PriceModel,
    stones: np.ndarray | list[list[float]] | Mapping[str, Sequence],
    *,
    explain: bool = False,
) -> Appraisal:
    """Price `stones` (a feature matrix or a list of its rows, or columns of FEATURES) with
    `model`. Prices and factors are unrounded, so that base_price × Π factors = price holds to
    float precision; round for display."""
    if isinstance(stones, np.ndarray | list) and len(stones) == 1:
        row = stones[0] if isinstance(stones, list) else stones[0].tolist()
        if one := _appraise_one(model, row, explain):
            return one
    if isinstance(stones, list):
        X = np.array(stones, dtype=float).reshape(-1, len(FEATURES))
    else:
        X = stones if isinstance(stones, np.ndarray) else feature_matrix(stones)
    geometry = implausibilities(*(X[:, column] for column in _MEASURE_COLUMNS))
    problems = [a + b for a, b in zip(geometry, model.out_of_domain(X), strict=True)]
    priced = np.fromiter((not p for p in problems), dtype=bool, count=len(problems))
    everything = bool(priced.all())
    ok = X if everything else X[priced]
    price = model.predict(ok)
    low, high = model.interval(ok, price)
    estimates = np.column_stack([price, low, high])
    if not everything:
        estimates = _spread(estimates, priced)
    base, log_factors = model.log_factors(ok) if explain else (None, None)
    return Appraisal(
        estimates,
        model.params.coverage,
        problems,
        priced,
        base,
        log_factors,
        ok if explain else None,
    )


def _appraise_one(model: PriceModel, x: list[float], explain: bool) -> Appraisal | None:
    """One stone in plain floats, the common request, to the last bit what the batch path
    gives it (its explanation is the batch path's); None if it has problems, which the batch
    path words."""
    if not (plausible(*(x[column] for column in _MEASURE_COLUMNS)) and model.within_domain(x)):
        return None
    estimates = np.array([model.price_row(x)])
    if not explain:
        return Appraisal(estimates, model.params.coverage, [[]], _ONE_PRICED)
    X = np.array([x])
    base, log_factors = model.log_factors(X)
    return Appraisal(estimates, model.params.coverage, [[]], _ONE_PRICED, base, log_factors, X)


def _spread(values: np.ndarray, priced: np.ndarray) -> np.ndarray:
    """The priced stones' rows in their places among all stones, NaN for the refused."""
    spread = np.full((len(priced), values.shape[1]), np.nan)
    spread[priced] = values
    return spread
