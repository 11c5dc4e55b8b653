"""What every payload is built from: the base models, the fields of a stone's characteristics
(derived from the one diamond record in training.record), the limits and common fields."""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from training.record import CATEGORIES, FIELD_BY_NAME, canonical_grade

MAX_STONES = 10_000
MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in PostgreSQL: the largest id, and so cursor, the database holds."""
MAX_NAME = 100
"""The longest model version or run id."""
IMPLAUSIBLE = "/v1/docs#implausible-stone"
"""The problem type of the domain rule: a stone whose measurements contradict each other, or
that lies far outside what the serving model was trained on (see training.geometry)."""


def _canonical(name: str):
    grades = frozenset(CATEGORIES[name])

    def canonical(value: Any) -> Any:
        if not isinstance(value, str) or value in grades:
            return value
        return canonical_grade(name, value) or value

    return canonical


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def absent(**options: Any) -> Any:
    """A field that may be left out but is never null: the document lists it as optional, with
    no default (a left-out field means "not given", never "null")."""
    return Field(None, json_schema_extra=_no_default, **options)


def grade(name: str) -> Any:
    return Annotated[Literal[CATEGORIES[name]], BeforeValidator(_canonical(name))]  # type: ignore[valid-type]


def measure(name: str, *, strict: bool = True) -> Any:
    spec = FIELD_BY_NAME[name]
    return Annotated[float, Field(strict=strict, gt=spec.low, le=spec.high, allow_inf_nan=False)]


def described(name: str) -> str:
    """What the document says of a characteristic: its grades, or its unit and bounds."""
    if name in CATEGORIES:
        return (
            f"{name} grade, worst to best: {', '.join(CATEGORIES[name])} (also taken in any case "
            "and spacing)"
        )
    spec = FIELD_BY_NAME[name]
    return f"{spec.description} ({spec.unit}); > {spec.low:g} and ≤ {spec.high:g}"


def characteristic(name: str, strict: bool = True) -> Any:
    """A characteristic's type: a grade, or a measure (`strict`: a number, not a string)."""
    return grade(name) if name in CATEGORIES else measure(name, strict=strict)


def required_characteristic(name: str, strict: bool = True) -> tuple[Any, Any]:
    return characteristic(name, strict), Field(description=described(name))


STRICT = ConfigDict(extra="forbid", str_max_length=200, defer_build=True)


class Schema(BaseModel):
    """Validators are built on first use: a function instance pays only for what it serves."""

    model_config = ConfigDict(defer_build=True)


class Strict(Schema):
    """A request's body or query: unknown fields are refused."""

    model_config = STRICT


Cursor = Annotated[int, Field(ge=0, le=MAX_ID)]
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
