"""Pricing stones with the champion: price, 90% interval, explanation and comparables.

The appraisal itself (and which stones are refused, and why) is `training.appraisal`'s; this adds
the serving model and the comparable stones of the inventory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from functions.champion import Champion
from training.appraisal import appraise
from training.features import GROUPS, stone_rows
from training.geometry import FieldProblem
from training.model import PriceBreakdown

Comparables = Callable[[str, str, str, float, int], list[dict]]


class Pricer:
    def __init__(self, champion: Champion, comparables: Comparables | None = None) -> None:
        self.champion = champion
        self.comparables = comparables

    def ready(self) -> bool:
        """Prices without a look at storage: a champion is loaded and not due for a check."""
        return self.champion.fresh()

    def price(
        self, stones: Sequence[BaseModel], *, explain: bool = False, comparables: int = 0
    ) -> tuple[str, list[dict], list[list[FieldProblem]]]:
        """(model version, one result dict per stone, each stone's (field, message) problems);
        raises NoChampion. If any stone has problems, none is priced: the results are empty.

        Prices and factors are unrounded, so that base_price × Π factors = price holds to
        float precision; round for display."""
        version, model = self.champion.get()
        appraisal = appraise(model, stone_rows(stones), explain=explain)
        if appraisal.refused:
            return version, [], appraisal.problems
        coverage = appraisal.coverage
        results = [
            {
                "price": p,
                "interval": {"low": lo, "high": hi, "coverage": coverage},
                "model_version": version,
            }
            for p, lo, hi in appraisal.estimates.tolist()
        ]
        if explain:
            for result, reasons in zip(results, appraisal.explanations(), strict=True):
                result["explanation"] = explanation(reasons)
        if comparables and self.comparables is not None:
            for result, stone in zip(results, stones, strict=True):
                result["comparables"] = self.comparables(
                    stone.cut, stone.color, stone.clarity, stone.carat, comparables
                )
        return version, results, appraisal.problems


def explanation(result: PriceBreakdown) -> dict:
    factors = [
        {"characteristic": group, "label": result.labels[group], "factor": result.factors[group]}
        for group in GROUPS
    ]
    text = f"base price ${result.base_price:,.0f}; " + ", ".join(result.lines())
    return {"base_price": result.base_price, "factors": factors, "text": text}
