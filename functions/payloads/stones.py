"""A stone's characteristics as a pricing request gives them, and an inventory stone as stored
(a comparable stone in a price)."""

from pydantic import ConfigDict, Field, create_model

from functions.payloads.schema import (
    MAX_ID,
    STRICT,
    Schema,
    Timestamp,
    described,
    grade,
    measure,
    required_characteristic,
)
from training.record import FEATURES

EXAMPLE_STONE = {
    "carat": 1.01,
    "cut": "Ideal",
    "color": "E",
    "clarity": "VS1",
    "depth": 61.5,
    "table": 57,
    "x": 6.44,
    "y": 6.47,
    "z": 3.97,
}


Stone = create_model(
    "Stone",
    __config__=ConfigDict(**STRICT, json_schema_extra={"examples": [EXAMPLE_STONE]}),
    __doc__="A diamond's characteristics.",
    **{name: required_characteristic(name) for name in FEATURES},
)


class StoredDiamond(Schema):
    """An inventory stone as stored."""

    id: int = Field(ge=1, le=MAX_ID)
    carat: measure("carat") = Field(description=described("carat"))  # type: ignore[valid-type]
    cut: grade("cut") = Field(description=described("cut"))  # type: ignore[valid-type]
    color: grade("color") = Field(description=described("color"))  # type: ignore[valid-type]
    clarity: grade("clarity") = Field(description=described("clarity"))  # type: ignore[valid-type]
    depth: measure("depth") = Field(description=described("depth"))  # type: ignore[valid-type]
    table: measure("table") = Field(description=described("table"))  # type: ignore[valid-type]
    x: measure("x") = Field(description=described("x"))  # type: ignore[valid-type]
    y: measure("y") = Field(description=described("y"))  # type: ignore[valid-type]
    z: measure("z") = Field(description=described("z"))  # type: ignore[valid-type]
    price: measure("price") | None = Field(description="appraised value (USD); null: not yet")  # type: ignore[valid-type]
    source: str | None = Field(
        description='who added it: "api" (by hand) or "ingest:<ledger id>" (a data file)'
    )
    created_at: Timestamp
    updated_at: Timestamp
    revision: int = Field(
        ge=1,
        description="counts its changes; its ETag is this number in quotes, for If-Match",
    )


class Comparable(StoredDiamond):
    """An inventory stone of the same grades as the one priced, and its appraised price."""

    price: measure("price") = Field(description="appraised value (USD)")  # type: ignore[valid-type]
