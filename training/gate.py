"""The gate: does a newly trained model replace the champion?

A pure decision on numbers the training run measured: the candidate is promoted unless its error
is worse than the champion's by more than the tolerance. The two are compared on the held-out
stones neither model trained on when there are enough of them, else on their cross-validated
errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_HELD_OUT_ROWS = 30
"""Fewer held-out stones new to the champion than this are too few to compare the models on."""


@dataclass(frozen=True)
class Scores:
    """A model's MAPE (%): cross-validated, and on the held-out stones neither model trained on
    (None when not measured)."""

    cross_validated: float
    held_out: float | None = None

    def problem(self) -> str | None:
        """Why these scores are no figures to compare (a MAPE that is infinite or NaN)."""
        for name, value in (("cross-validated", self.cross_validated), ("held-out", self.held_out)):
            if value is not None and not math.isfinite(value):
                return f"its {name} MAPE is {value}, not a figure"
        return None


@dataclass(frozen=True)
class Champion:
    """The serving model as the gate sees it: its scores, or why it cannot be used."""

    version: str
    scores: Scores | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    compared: dict[str, float | str] | None = None
    """The MAPEs compared and the champion's version, when the models were compared."""


def decide(
    candidate: Scores, champion: Champion | None, held_out_rows: int, tolerance: float
) -> Decision:
    """Promote `candidate` over `champion` or keep it as a candidate, with the reason.

    `held_out_rows` is how many held-out stones neither model trained on; `tolerance` is how
    much worse (relative, 0.02 = 2%) the candidate's MAPE may be and still be promoted.
    """
    if (problem := candidate.problem()) is not None:
        return Decision(False, f"not compared: {problem}")
    if champion is None:
        return Decision(True, "first model: there was no champion")
    if champion.scores is not None and (problem := champion.scores.problem()) is not None:
        champion = Champion(champion.version, problem=problem)
    if champion.scores is None:
        return Decision(
            True, f"the champion {champion.version} cannot be used ({champion.problem})"
        )
    old_scores = champion.scores
    if (
        held_out_rows >= MIN_HELD_OUT_ROWS
        and candidate.held_out is not None
        and old_scores.held_out is not None
    ):
        new, old = candidate.held_out, old_scores.held_out
        basis = f"on {held_out_rows} held-out stones neither model trained on"
    else:
        new, old = candidate.cross_validated, old_scores.cross_validated
        basis = f"cross-validated (only {held_out_rows} held-out stones were new to the champion)"
    compared = {"candidate_mape": new, "champion_mape": old, "champion": champion.version}
    verdict = f"MAPE {new:.2f}% vs champion {champion.version} {old:.2f}% {basis}"
    if new <= old * (1 + tolerance):
        return Decision(True, verdict, compared)
    return Decision(False, f"{verdict}: worse by more than {tolerance:.0%}", compared)
