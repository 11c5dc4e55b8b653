"""Is a price an appraisal or a typing slip? The price per carat must lie in
PRICE_PER_CARAT_RANGE, a tenth of the cheapest to ten times the dearest public stone's.

A price that is positive but absurd (5e-324 dollars, or a price per carat no trade has seen)
would otherwise be stored, trained on and, through the relative error, make a model's MAPE
infinite.
"""

from __future__ import annotations

import numpy as np

from training.geometry import FieldProblem
from training.record import PRICE_PER_CARAT_RANGE

LOWEST, HIGHEST = PRICE_PER_CARAT_RANGE


def price_implausibilities(carat: np.ndarray, price: np.ndarray) -> list[list[FieldProblem]]:
    """The price problem of each stone (an empty list for a plausible price or none at all).

    Inputs are arrays of floats, one entry per stone: positive finite carats, and prices that
    are positive and finite or NaN (no price). The rule compares price with carat × bound, so
    that no division can overflow or round a tiny price to zero.
    """
    carat, price = np.asarray(carat, dtype=float), np.asarray(price, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        low = price < carat * LOWEST
        high = price > carat * HIGHEST
    problems: list[list[FieldProblem]] = [[] for _ in range(len(carat))]
    for i in (low | high).nonzero()[0]:
        bound = f"at least {LOWEST:,.0f}" if low[i] else f"at most {HIGHEST:,.0f}"
        problems[i].append(
            (
                "price",
                f"{price[i]:.6g} USD for {carat[i]:g} ct is {_per_carat(price[i], carat[i])} "
                f"USD per carat; an appraisal is {bound} USD per carat",
            )
        )
    return problems


def _per_carat(price: float, carat: float) -> str:
    with np.errstate(over="ignore", under="ignore"):
        ratio = price / carat
    return f"{ratio:,.0f}" if 0.5 <= ratio < 1e12 else f"{ratio:.2g}"
