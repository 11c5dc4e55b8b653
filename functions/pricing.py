"""Pricing stones with the champion: price, 90% interval, explanation and comparables.

A stone whose measurements contradict each other, or that lies far outside what the model was
trained on, is refused with a 422 naming the field: never an absurd price.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel

from functions.api import Problem, refuse_implausible
from functions.champion import Champion
from training.features import GROUPS, feature_matrix
from training.geometry import MEASURES, implausibilities
from training.model import Explanation, PriceModel
from training.registry import NoChampion
from training.schema import FEATURES

Comparables = Callable[[str, str, str, float, int], list[dict]]


class Pricer:
    def __init__(self, champion: Champion, comparables: Comparables | None = None) -> None:
        self.champion = champion
        self.comparables = comparables

    def price(
        self,
        stones: Sequence[BaseModel],
        *,
        explain: bool = False,
        comparables: int = 0,
        single: bool = False,
        prefix: tuple = (),
    ) -> tuple[str, list[dict]]:
        """(model version, one result dict per stone); raises Problem for stones it refuses,
        its errors pointing at `prefix` + the field (or + the stone's index and the field).

        Prices and factors are unrounded, so that base_price × Π factors = price holds to
        float precision; round for display."""
        try:
            version, model = self.champion.get()
        except NoChampion as exc:
            raise Problem(503, "No model yet", f"{exc}; POST /v1/retrain to train one") from None
        columns = {name: [getattr(s, name) for s in stones] for name in FEATURES}
        X = feature_matrix(columns)
        self._refuse_implausible(model, X, single, prefix)
        price = model.predict(X)
        low, high = model.interval(X, price)
        coverage = model.params.coverage
        results = [
            {
                "price": float(p),
                "interval": {"low": float(lo), "high": float(hi), "coverage": coverage},
                "model_version": version,
            }
            for p, lo, hi in zip(price, low, high, strict=True)
        ]
        if explain:
            for result, reasons in zip(results, model.explanations(X), strict=True):
                result["explanation"] = explanation(reasons)
        if comparables and self.comparables is not None:
            for result, stone in zip(results, stones, strict=True):
                result["comparables"] = self.comparables(
                    stone.cut, stone.color, stone.clarity, stone.carat, comparables
                )
        return version, results

    @staticmethod
    def _refuse_implausible(model: PriceModel, X: np.ndarray, single: bool, prefix: tuple) -> None:
        geometry = implausibilities(*(X[:, FEATURES.index(name)] for name in MEASURES))
        problems = [a + b for a, b in zip(geometry, model.out_of_domain(X), strict=True)]
        refuse_implausible(problems, single, prefix)


def explanation(result: Explanation) -> dict:
    factors = [
        {"characteristic": group, "label": result.labels[group], "factor": result.factors[group]}
        for group in GROUPS
    ]
    text = f"base price ${result.base_price:,.0f}; " + ", ".join(result.lines())
    return {"base_price": result.base_price, "factors": factors, "text": text}
