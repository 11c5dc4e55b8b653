"""The diamond record: one definition for validation, the database, the API and the model.

Everything here is plain data (names, bounds, category orders) so that each consumer derives
its own view of the record from the same source instead of restating it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

CUTS: tuple[str, ...] = ("Fair", "Good", "Very Good", "Premium", "Ideal")
COLORS: tuple[str, ...] = ("J", "I", "H", "G", "F", "E", "D")
CLARITIES: tuple[str, ...] = ("I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF")

CATEGORIES: dict[str, tuple[str, ...]] = {"cut": CUTS, "color": COLORS, "clarity": CLARITIES}
"""Each grade, worst first: its position is the ordinal code the model sees."""
_SPELLINGS = {
    name: {grade.lower(): grade for grade in grades} for name, grades in CATEGORIES.items()
}


def canonical_grade(name: str, text: str) -> str | None:
    """The grade of characteristic `name` that `text` spells, in any case and spacing
    ("very  good" is "Very Good"), or None."""
    return _SPELLINGS[name].get(" ".join(text.split()).lower())


@dataclass(frozen=True)
class NumericField:
    """A measured characteristic; valid values lie in the open-closed range (low, high]."""

    name: str
    unit: str
    description: str
    low: float
    high: float


NUMERIC_FIELDS: tuple[NumericField, ...] = (
    NumericField("carat", "ct", "mass, 1 ct = 200 mg", 0.0, 30.0),
    NumericField("depth", "%", "total depth, 2·z/(x+y)·100 for a round stone", 0.0, 100.0),
    NumericField("table", "%", "table width as a percentage of the stone's width", 0.0, 100.0),
    NumericField("x", "mm", "length", 0.0, 60.0),
    NumericField("y", "mm", "width", 0.0, 60.0),
    NumericField("z", "mm", "depth", 0.0, 40.0),
)
PRICE = NumericField("price", "USD", "appraised value, 2008 US dollars", 0.0, 10_000_000.0)

FEATURES: tuple[str, ...] = ("carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z")
"""The characteristics of a stone, in the order the model reads them."""

COLUMNS: tuple[str, ...] = (*FEATURES, "price")
"""A training record: the characteristics and the appraised price."""

FIELD_BY_NAME: dict[str, NumericField] = {f.name: f for f in (*NUMERIC_FIELDS, PRICE)}


def fingerprint(values: Iterable[object]) -> str:
    """A short hash of a record's values in COLUMNS order (numbers as Python writes floats):
    the same stone gets the same fingerprint in the inventory and among a model's training
    rows."""
    return hashlib.sha256("|".join(map(str, values)).encode()).hexdigest()[:16]


# Geometry. A round brilliant weighs about 0.0061 ct per cubic millimetre of its x·y·z box
# (the median over the 53,940 public stones; 99.8% of them lie within 0.94–1.12 of it).
CARAT_PER_MM3 = 0.0061
WEIGHT_RATIO_RANGE = (0.75, 1.33)
"""Accepted range of carat / (CARAT_PER_MM3·x·y·z): outside it the dimensions describe a stone
about a third lighter or heavier than its stated weight."""
DEPTH_TOLERANCE = 5.0
"""Largest accepted gap, in percentage points, between the stated depth and 2·z/(x+y)·100."""

# Price. The 53,940 public stones cost 1,051 to 17,829 USD per carat (99.8% of them 1,220 to
# 12,800). A price per carat ten times below the cheapest or above the dearest of them is not
# an appraisal but a typing slip (a dropped digit, a price in thousands, a value in cents).
PRICE_PER_CARAT_RANGE = (100.0, 200_000.0)
"""Accepted range of price / carat, in USD per ct."""
