"""The gate's decision, on numbers alone (training/gate.py)."""

from __future__ import annotations

import pytest

from training.gate import MIN_HELD_OUT_ROWS, Champion, Scores, decide

ENOUGH = MIN_HELD_OUT_ROWS


def test_the_first_model_is_promoted() -> None:
    decision = decide(Scores(9.0), None, 0, 0.02)
    assert decision.promote and decision.reason == "first model: there was no champion"
    assert decision.compared is None


def test_a_champion_that_cannot_be_used_is_replaced() -> None:
    decision = decide(Scores(9.0), Champion("v1", problem="checksum mismatch"), 0, 0.02)
    assert decision.promote
    assert decision.reason == "the champion v1 cannot be used (checksum mismatch)"


@pytest.mark.parametrize(
    ("new", "promote"), [(5.0, True), (6.0, True), (6.12, True), (6.13, False), (9.0, False)]
)
def test_held_out_errors_decide_within_the_tolerance(new: float, promote: bool) -> None:
    champion = Champion("v1", Scores(cross_validated=1.0, held_out=6.0))
    decision = decide(Scores(cross_validated=50.0, held_out=new), champion, ENOUGH, 0.02)
    assert decision.promote is promote
    assert decision.compared == {"candidate_mape": new, "champion_mape": 6.0, "champion": "v1"}
    assert f"on {ENOUGH} held-out stones neither model trained on" in decision.reason
    assert decision.reason.endswith("worse by more than 2%") is not promote


def test_too_few_held_out_stones_fall_back_to_cross_validated_errors() -> None:
    champion = Champion("v1", Scores(cross_validated=7.0, held_out=1.0))
    decision = decide(Scores(cross_validated=7.1, held_out=50.0), champion, ENOUGH - 1, 0.02)
    assert decision.promote
    assert decision.compared == {"candidate_mape": 7.1, "champion_mape": 7.0, "champion": "v1"}
    assert decision.reason == (
        f"MAPE 7.10% vs champion v1 7.00% cross-validated "
        f"(only {ENOUGH - 1} held-out stones were new to the champion)"
    )


def test_unmeasured_held_out_errors_fall_back_to_cross_validated_errors() -> None:
    champion = Champion("v1", Scores(cross_validated=5.0))
    decision = decide(Scores(cross_validated=8.0, held_out=4.0), champion, ENOUGH, 0.1)
    assert not decision.promote and decision.compared["candidate_mape"] == 8.0
    assert decision.reason.endswith(": worse by more than 10%")


def test_a_zero_tolerance_promotes_only_an_equal_or_better_model() -> None:
    champion = Champion("v1", Scores(5.0, 5.0))
    assert decide(Scores(9.0, 5.0), champion, ENOUGH, 0.0).promote
    assert not decide(Scores(9.0, 5.0001), champion, ENOUGH, 0.0).promote


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_a_mape_that_is_not_a_figure_never_wins(bad: float) -> None:
    """A candidate whose MAPE is infinite or NaN is never promoted; a champion whose MAPE is
    is no figure to compare with ("inf% vs inf%"), so a measured candidate replaces it."""
    champion = Champion("v1", Scores(5.0, 5.0))
    refused = decide(Scores(bad, 4.0), champion, ENOUGH, 0.02)
    assert (
        not refused.promote
        and refused.reason == f"not compared: its cross-validated MAPE is {bad}, not a figure"
    )
    assert not decide(Scores(4.0, bad), champion, ENOUGH, 0.02).promote
    assert not decide(Scores(bad), None, 0, 0.02).promote
    replaced = decide(Scores(9.0, 9.0), Champion("v1", Scores(bad, bad)), ENOUGH, 0.02)
    assert replaced.promote
    assert (
        replaced.reason
        == f"the champion v1 cannot be used (its cross-validated MAPE is {bad}, not a figure)"
    )
