"""The inventory's stones as a request gives them, its filters, ids and pages."""

from typing import Annotated

from pydantic import ConfigDict, Field, create_model

from functions.payloads.schema import (
    MAX_ID,
    STRICT,
    Cursor,
    Schema,
    Strict,
    absent,
    characteristic,
    described,
    grade,
    measure,
    required_characteristic,
)
from functions.payloads.stones import EXAMPLE_STONE, StoredDiamond
from training.record import FEATURES, PRICE

Bound = Annotated[float, Field(ge=0, allow_inf_nan=False)]

Diamond = create_model(
    "Diamond",
    __config__=ConfigDict(
        **STRICT, json_schema_extra={"examples": [{**EXAMPLE_STONE, "price": 5800.0}]}
    ),
    __doc__="An inventory stone: its characteristics and, once appraised, its price.",
    **{name: required_characteristic(name) for name in FEATURES},
    price=(
        measure(PRICE.name) | None,
        Field(None, description=described(PRICE.name)),
    ),
)
DiamondPatch = create_model(
    "DiamondPatch",
    __config__=ConfigDict(
        **STRICT, json_schema_extra={"minProperties": 1, "examples": [{"price": 5900.0}]}
    ),
    __doc__="Some fields of an inventory stone (at least one); the others keep their values. "
    "Only the price may be null: it clears the price.",
    **{name: (characteristic(name), absent(description=described(name))) for name in FEATURES},
    price=(
        measure(PRICE.name) | None,
        absent(description=described(PRICE.name) + "; null clears it"),
    ),
)


class DiamondFilters(Strict):
    cut: list[grade("cut")] = absent(description="one or more cut grades")  # type: ignore[valid-type]
    color: list[grade("color")] = absent(description="one or more colors")  # type: ignore[valid-type]
    clarity: list[grade("clarity")] = absent(description="one or more clarities")  # type: ignore[valid-type]
    carat_min: Bound = absent(description="carat at least this")
    carat_max: Bound = absent(description="carat at most this")
    price_min: Bound = absent(description="price at least this")
    price_max: Bound = absent(description="price at most this")
    limit: int = Field(100, ge=1, le=1000, description="stones per page")
    cursor: Cursor = absent(description="from the previous page's next_cursor")


class DiamondId(Strict):
    id: int = Field(ge=1, le=MAX_ID, description="the stone's id")


class DiamondPage(Schema):
    items: list[StoredDiamond]
    next_cursor: Cursor | None = Field(description="pass as `cursor` for the next page")
    total: int = Field(ge=0, description="stones matching the filters")
