"""The domain rule for inventory records: a stone's measurements agree with each other
(training.geometry) and its price, if it has one, is an appraisal, not a typing slip
(training.price_rule). Training applies the same rules to every row of a data file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from training.geometry import MEASURES, FieldProblem, implausibilities
from training.price_rule import price_implausibilities


def record_implausibilities(records: Sequence[Mapping[str, float]]) -> list[list[FieldProblem]]:
    """The problems of stones given as records (mappings holding MEASURES and maybe a price)."""
    found = implausibilities(*(np.array([r[n] for r in records], dtype=float) for n in MEASURES))
    prices = np.array([_price(r) for r in records], dtype=float)
    carats = np.array([r["carat"] for r in records], dtype=float)
    for problems, price_problems in zip(found, price_implausibilities(carats, prices), strict=True):
        problems.extend(price_problems)
    return found


def _price(record: Mapping[str, float]) -> float:
    price = record.get("price")
    return float("nan") if price is None else price
