"""Physical plausibility: do a stone's own measurements agree with each other?

Two rules, each a property of a real stone, not a statistical outlier test:
- weight: a round brilliant weighs about CARAT_PER_MM3 ct per mm³ of its x·y·z box; a stone
  whose box implies a weight a third off its stated carat has a typing slip in one of them;
- depth: the stated total depth % must agree with 2·z/(x+y)·100 within DEPTH_TOLERANCE points.
"""

from __future__ import annotations

import numpy as np

from training.record import CARAT_PER_MM3, DEPTH_TOLERANCE, WEIGHT_RATIO_RANGE

_LOG_CARAT_PER_MM3 = float(np.log(CARAT_PER_MM3))
_LOG_LOWEST_RATIO, _LOG_HIGHEST_RATIO = (float(v) for v in np.log(WEIGHT_RATIO_RANGE))

FieldProblem = tuple[str, str]
"""(field, message): what is wrong and with which field."""
Real = float | np.ndarray


def implausibilities(
    carat: np.ndarray, depth: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> list[list[FieldProblem]]:
    """The geometry problems of each stone (an empty list for a plausible one).

    Inputs are arrays of positive finite floats, one entry per stone. The weight rule compares
    logarithms, so that its verdict holds for any positive numbers, however small (a product
    of three tiny dimensions would round to zero).
    """
    carat, depth, x, y, z = (np.asarray(a, dtype=float) for a in (carat, depth, x, y, z))
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        log_implied = _log_implied_carat(np.log(x), np.log(y), np.log(z))
        computed_depth = _computed_depth(x, y, z)
        bad_weight = ~_weight_agrees(np.log(carat), log_implied)
        bad_depth = ~_depth_agrees(depth, computed_depth)
    problems: list[list[FieldProblem]] = [[] for _ in range(len(carat))]
    for i in bad_weight.nonzero()[0]:
        problems[i].append(
            (
                "carat",
                f"dimensions {x[i]:g} × {y[i]:g} × {z[i]:g} mm describe a stone of about "
                f"{_about(log_implied[i])} ct, not {carat[i]:g} ct",
            )
        )
    for i in bad_depth.nonzero()[0]:
        problems[i].append(
            (
                "depth",
                f"stated depth {depth[i]:g}% disagrees with {computed_depth[i]:.1f}% "
                "computed from x, y and z",
            )
        )
    return problems


def plausible(carat: float, depth: float, x: float, y: float, z: float) -> bool:
    """Whether one stone, given in plain floats, has no `implausibilities`: the same rules in
    the same arithmetic, without a hundred NumPy calls on one-element arrays."""
    log_carat, log_x, log_y, log_z = np.log([carat, x, y, z]).tolist()
    return bool(
        _weight_agrees(log_carat, _log_implied_carat(log_x, log_y, log_z))
        and _depth_agrees(depth, _computed_depth(x, y, z))
    )


# The rules, written once for a stone's floats and a batch's arrays alike.
def _log_implied_carat(log_x: Real, log_y: Real, log_z: Real) -> Real:
    return _LOG_CARAT_PER_MM3 + log_x + log_y + log_z


def _computed_depth(x: Real, y: Real, z: Real) -> Real:
    return 200.0 * (z / (x + y))


def _weight_agrees(log_carat: Real, log_implied: Real) -> Real:
    log_ratio = log_carat - log_implied
    return (log_ratio >= _LOG_LOWEST_RATIO) & (log_ratio <= _LOG_HIGHEST_RATIO)


def _depth_agrees(depth: Real, computed: Real) -> Real:
    return abs(computed - depth) <= DEPTH_TOLERANCE


def _about(log_value: float) -> str:
    """A positive number given by its natural logarithm, written for people: 0.45, or 3.2e-15
    (or 7.6e-973, which no float holds)."""
    if log_value >= np.log(0.005):
        return f"{np.exp(log_value):.2f}"
    exponent = int(np.floor(log_value / np.log(10)))
    mantissa = round(float(np.exp(log_value - exponent * np.log(10))), 1)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.1f}e{exponent}"


MEASURES = ("carat", "depth", "x", "y", "z")
"""The fields the geometry rules read, in the order `implausibilities` takes them."""
