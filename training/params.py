"""The model's hyper-parameters, as plain data: what `diamonds train --param` sets, a version's
metadata records and the API documents (functions/payloads/models.py derives its schema from
here). A module of its own, so that reading them costs no model code."""

from __future__ import annotations

from typing import Annotated

import pydantic.dataclasses
from pydantic import AfterValidator, ConfigDict, Field

from training.record import FEATURES


def _known_features(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not among {', '.join(FEATURES)}")
    return names


Count = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(gt=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]


@pydantic.dataclasses.dataclass(
    frozen=True,
    config=ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True),
)
class ModelParams:
    """Hyper-parameters, as plain data; pydantic converts and checks each value (a string from
    the command line included), and an unusable one raises a ValidationError that names it."""

    tree_features: Annotated[
        tuple[str, ...], Field(min_length=1), AfterValidator(_known_features)
    ] = ("carat", "cut", "color", "clarity", "x", "y")
    """What the trees see. Depth, table and z are left out: they lower the cross-validated
    error when dropped (they are noisy restatements of x, y and carat)."""
    n_estimators: Count = 150
    learning_rate: Fraction = 0.12
    max_depth: Count = 7
    """Bounds the work of pricing a batch: every stone walks max_depth steps in every tree."""
    num_leaves: Count = 31
    min_child_samples: Count = 10
    subsample: Fraction = 0.8
    colsample_bytree: Fraction = 1.0
    reg_lambda: NonNegative = 1.0
    huber_delta: Annotated[float, Field(gt=0)] = 0.1
    ridge: NonNegative = 1e-3
    coverage: Annotated[
        float, Field(gt=0, lt=1, description="the interval's target coverage (a fraction)")
    ] = 0.9
    calibration_folds: Annotated[int, Field(ge=2, le=20)] = 5
    seed: Annotated[int, Field(ge=0)] = 0
