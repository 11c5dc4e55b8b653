"""The API's request and response models, derived from the one diamond record in
training.schema. They validate requests and generate the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from training.features import GROUPS
from training.schema import CATEGORIES, FEATURES, FIELD_BY_NAME, PRICE

MAX_STONES = 10_000


def _canonical(name: str):
    grades = frozenset(CATEGORIES[name])
    lookup = {value.lower(): value for value in grades}

    def canonical(value: Any) -> Any:
        if not isinstance(value, str) or value in grades:
            return value
        return lookup.get(" ".join(value.split()).lower(), value)

    return canonical


def _field(name: str, *, required: bool = True, strict: bool = True) -> tuple[Any, Any]:
    default = ... if required else None
    if name in CATEGORIES:
        grades = CATEGORIES[name]
        kind = Annotated[Literal[grades], BeforeValidator(_canonical(name))]  # type: ignore[valid-type]
        description = f"{name} grade, worst to best: {', '.join(grades)}"
        return (kind if required else kind | None), Field(default, description=description)
    spec = FIELD_BY_NAME[name]
    kind = Annotated[float, Field(strict=strict, gt=spec.low, le=spec.high, allow_inf_nan=False)]
    description = f"{spec.description} ({spec.unit}); > {spec.low:g} and ≤ {spec.high:g}"
    return (kind if required else kind | None), Field(default, description=description)


_STRICT = ConfigDict(extra="forbid", str_max_length=200, defer_build=True)


class Schema(BaseModel):
    """Validators are built on first use: a function instance pays only for what it serves."""

    model_config = ConfigDict(defer_build=True)


Stone = create_model(
    "Stone",
    __config__=_STRICT,
    __doc__="A diamond's characteristics.",
    **{name: _field(name) for name in FEATURES},
)
Diamond = create_model(
    "Diamond",
    __config__=_STRICT,
    __doc__="An inventory stone: its characteristics and, once appraised, its price.",
    **{name: _field(name) for name in FEATURES},
    price=_field(PRICE.name, required=False),
)
DiamondPatch = create_model(
    "DiamondPatch",
    __config__=_STRICT,
    __doc__="Some fields of an inventory stone; the others keep their values.",
    **{name: _field(name, required=False) for name in (*FEATURES, PRICE.name)},
)


class PriceOptions(Schema):
    model_config = ConfigDict(extra="forbid")
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
    **{name: _field(name, strict=False) for name in FEATURES},
)


class DiamondFilters(Schema):
    model_config = ConfigDict(extra="forbid")
    cut: list[_field("cut")[0]] | None = Field(None, description="one or more cut grades")  # type: ignore[valid-type]
    color: list[_field("color")[0]] | None = Field(None, description="one or more colors")  # type: ignore[valid-type]
    clarity: list[_field("clarity")[0]] | None = Field(None, description="one or more clarities")  # type: ignore[valid-type]
    carat_min: float | None = Field(None, ge=0, allow_inf_nan=False)
    carat_max: float | None = Field(None, ge=0, allow_inf_nan=False)
    price_min: float | None = Field(None, ge=0, allow_inf_nan=False)
    price_max: float | None = Field(None, ge=0, allow_inf_nan=False)
    limit: int = Field(100, ge=1, le=1000, description="stones per page")
    cursor: int | None = Field(None, ge=0, description="from the previous page's next_cursor")


class StoredDiamond(Diamond):  # type: ignore[misc, valid-type]
    """An inventory stone as stored."""

    model_config = ConfigDict(extra="ignore")
    id: int
    source: str | None = None
    created_at: str
    updated_at: str


class DiamondPage(Schema):
    items: list[StoredDiamond]
    next_cursor: int | None = Field(None, description="pass as `cursor` for the next page")
    total: int = Field(description="stones matching the filters")


class Interval(Schema):
    low: float
    high: float
    coverage: float = Field(description="share of true prices the interval is calibrated to hold")


class Factor(Schema):
    characteristic: Literal[GROUPS]  # type: ignore[valid-type]
    label: str = Field(description='e.g. "clarity VS1"')
    factor: float = Field(description="multiplies the base price")


class Explanation(Schema):
    base_price: float = Field(description="the price of a typical stone in the training data")
    factors: list[Factor]
    text: str = Field(description="the explanation in one line")


class Comparable(Schema):
    id: int
    carat: float
    cut: str
    color: str
    clarity: str
    price: float


class Price(Schema):
    price: float = Field(description="the predicted price, 2008 USD")
    interval: Interval
    model_version: str
    explanation: Explanation | None = None
    comparables: list[Comparable] | None = None


class PriceList(Schema):
    model_version: str
    prices: list[Price]


class ModelSummary(Schema):
    version: str
    champion: bool
    created_at: str | None = None
    cv_mape: float | None = None
    holdout_mape: float | None = None
    interval_coverage: float | None = None
    rows: int | None = None


class ModelList(Schema):
    champion: str | None
    models: list[ModelSummary]


class Promotion(Schema):
    reason: str = Field("promoted through the API", max_length=500)


class RetrainRequest(Schema):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("requested through the API", max_length=500)


class RunStarted(Schema):
    run_id: str = Field(description="the run this request became part of")
    status: Literal["queued"]
    snapshot: str = Field(description="URI of the inventory snapshot the run trains on")
    rows: int
    status_url: str
    coalesced: bool = Field(
        description="the request joined a follow-up run that earlier requests had asked for"
    )
    running: str | None = Field(
        description="the run in progress that this one waits for (null: it starts now)"
    )
    job: dict | None = Field(description="the training job started for it (null: not yet)")


class RunList(Schema):
    runs: list[str] = Field(description="the latest runs' ids, oldest first")
    running: str | None = Field(description="the run holding the training slot")
    queued: str | None = Field(description="the follow-up run waiting for it")


class Ingestion(Schema):
    """One delivery of a data file, from the ingestion ledger."""

    id: int
    bucket: str
    name: str = Field(description="the object's name (its key under the DATA root)")
    generation: str
    status: Literal["processing", "done", "failed", "rejected", "skipped"]
    received_at: str
    finished_at: str | None
    attempts: int = Field(description="deliveries that took the file up")
    sha256: str | None
    size: int | None = Field(description="bytes")
    rows_read: int | None
    accepted: int | None
    rejected: int | None = Field(description="rows quarantined with their reasons")
    inserted: int | None = Field(description="accepted stones new to the inventory")
    unchanged: int | None = Field(description="accepted stones already in the inventory")
    stored_at: str | None
    scored_at: str | None
    champion_version: str | None = Field(description="the champion when the file arrived")
    champion_mape: float | None = Field(
        description="its MAPE (%) on the file's stones it never trained on, before retraining"
    )
    champion_scored: int | None = Field(description="how many stones that MAPE is over")
    run_id: str | None = Field(description="the training run the file asked for")
    error: str | None


class IngestionPage(Schema):
    items: list[Ingestion]
    next_cursor: int | None = Field(None, description="pass as `cursor` for the next page")


class Page(Schema):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=500, description="entries per page")
    cursor: int | None = Field(
        None, ge=0, le=2**31 - 1, description="from the previous page's next_cursor"
    )


class ProblemDetails(Schema):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        None, description="one entry per problem: `field` (a JSON pointer) and `detail`"
    )
