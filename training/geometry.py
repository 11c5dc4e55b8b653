"""Physical plausibility: do a stone's own measurements agree with each other?

Two rules, each a property of a real stone, not a statistical outlier test:
- weight: a round brilliant weighs about CARAT_PER_MM3 ct per mm³ of its x·y·z box; a stone
  whose box implies a weight a third off its stated carat has a typing slip in one of them;
- depth: the stated total depth % must agree with 2·z/(x+y)·100 within DEPTH_TOLERANCE points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from training.schema import CARAT_PER_MM3, DEPTH_TOLERANCE, WEIGHT_RATIO_RANGE

Problem = tuple[str, str]
"""(field, message): what is wrong and with which field."""


def implausibilities(
    carat: np.ndarray, depth: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> list[list[Problem]]:
    """The geometry problems of each stone (an empty list for a plausible one).

    Inputs are arrays of positive finite floats, one entry per stone.
    """
    carat, depth, x, y, z = (np.asarray(a, dtype=float) for a in (carat, depth, x, y, z))
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        implied_carat = CARAT_PER_MM3 * x * y * z
        ratio = carat / implied_carat
        computed_depth = 200.0 * z / (x + y)
    low, high = WEIGHT_RATIO_RANGE
    bad_weight = ~((ratio >= low) & (ratio <= high))
    bad_depth = ~(np.abs(computed_depth - depth) <= DEPTH_TOLERANCE)
    problems: list[list[Problem]] = [[] for _ in range(len(carat))]
    for i in np.flatnonzero(bad_weight):
        problems[i].append(
            (
                "carat",
                f"dimensions {x[i]:g} × {y[i]:g} × {z[i]:g} mm describe a stone of about "
                f"{implied_carat[i]:.2f} ct, not {carat[i]:g} ct",
            )
        )
    for i in np.flatnonzero(bad_depth):
        problems[i].append(
            (
                "depth",
                f"stated depth {depth[i]:g}% disagrees with {computed_depth[i]:.1f}% "
                "computed from x, y and z",
            )
        )
    return problems


MEASURES = ("carat", "depth", "x", "y", "z")
"""The fields the geometry rules read, in the order `implausibilities` takes them."""


def record_implausibilities(records: Sequence[Mapping[str, float]]) -> list[list[Problem]]:
    """`implausibilities` of stones given as records (mappings holding MEASURES)."""
    return implausibilities(*(np.array([r[n] for r in records], dtype=float) for n in MEASURES))
