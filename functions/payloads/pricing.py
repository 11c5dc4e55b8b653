"""The pricing function's query options and answers."""

from typing import Literal

from pydantic import Field, create_model

from functions.payloads.schema import (
    Schema,
    Strict,
    absent,
    required_characteristic,
)
from functions.payloads.stones import Comparable
from training.features import GROUPS
from training.record import FEATURES


class PriceOptions(Strict):
    explain: bool = Field(
        False, description="add the base price and the factor of each characteristic"
    )
    comparables: int = Field(
        0,
        ge=0,
        le=20,
        description="add this many inventory stones of the same grades, nearest carat",
    )


StoneQuery = create_model(
    "StoneQuery",
    __base__=PriceOptions,
    __doc__="One stone in the query string, e.g. ?carat=1.01&cut=Ideal&...",
    **{name: required_characteristic(name, strict=False) for name in FEATURES},
)


class Interval(Schema):
    low: float
    high: float
    coverage: float = Field(
        gt=0, lt=1, description="the share of true prices the interval is calibrated to hold"
    )


class Factor(Schema):
    characteristic: Literal[GROUPS]  # type: ignore[valid-type]
    label: str = Field(description='e.g. "clarity VS1"')
    factor: float = Field(description="multiplies the base price")


class Explanation(Schema):
    base_price: float = Field(description="the price of a typical stone in the training data")
    factors: list[Factor]
    text: str = Field(description="the explanation in one line")


class Price(Schema):
    price: float = Field(description="the predicted price, 2008 USD")
    interval: Interval
    model_version: str
    explanation: Explanation = absent(description="with explain=true")
    comparables: list[Comparable] = absent(
        description="with comparables=N: up to N stones, nearest carat first"
    )


class PriceList(Schema):
    model_version: str
    prices: list[Price] = Field(description="one per stone, in the order sent")
