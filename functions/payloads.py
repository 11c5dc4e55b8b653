"""The API's request and response models, derived from the one diamond record in
training.record. They validate requests and generate the OpenAPI document, so every constraint
the server enforces on an input is stated in the document, and every field of every response
is described there.

Annotations here are objects, not strings (no `from __future__ import annotations`): pydantic
would evaluate each string back, a few milliseconds of every cold start."""

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    create_model,
)

from functions.statuses import FileEvent, FileStatus
from training.features import GROUPS
from training.params import ModelParams
from training.record import CATEGORIES, FEATURES, FIELD_BY_NAME, PRICE, canonical_grade
from training.statuses import RunStatus

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


def _description(name: str) -> str:
    if name in CATEGORIES:
        return (
            f"{name} grade, worst to best: {', '.join(CATEGORIES[name])} (also taken in any case "
            "and spacing)"
        )
    spec = FIELD_BY_NAME[name]
    return f"{spec.description} ({spec.unit}); > {spec.low:g} and ≤ {spec.high:g}"


def _kind(name: str, strict: bool = True) -> Any:
    return grade(name) if name in CATEGORIES else measure(name, strict=strict)


def _required(name: str, strict: bool = True) -> tuple[Any, Any]:
    return _kind(name, strict), Field(description=_description(name))


_STRICT = ConfigDict(extra="forbid", str_max_length=200, defer_build=True)
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


class Schema(BaseModel):
    """Validators are built on first use: a function instance pays only for what it serves."""

    model_config = ConfigDict(defer_build=True)


class Strict(Schema):
    """A request's body or query: unknown fields are refused."""

    model_config = _STRICT


Stone = create_model(
    "Stone",
    __config__=ConfigDict(**_STRICT, json_schema_extra={"examples": [EXAMPLE_STONE]}),
    __doc__="A diamond's characteristics.",
    **{name: _required(name) for name in FEATURES},
)
Diamond = create_model(
    "Diamond",
    __config__=ConfigDict(
        **_STRICT, json_schema_extra={"examples": [{**EXAMPLE_STONE, "price": 5800.0}]}
    ),
    __doc__="An inventory stone: its characteristics and, once appraised, its price.",
    **{name: _required(name) for name in FEATURES},
    price=(measure(PRICE.name) | None, Field(None, description=_description(PRICE.name))),
)
DiamondPatch = create_model(
    "DiamondPatch",
    __config__=ConfigDict(
        **_STRICT, json_schema_extra={"minProperties": 1, "examples": [{"price": 5900.0}]}
    ),
    __doc__="Some fields of an inventory stone (at least one); the others keep their values. "
    "Only the price may be null: it clears the price.",
    **{name: (_kind(name), absent(description=_description(name))) for name in FEATURES},
    price=(
        measure(PRICE.name) | None,
        absent(description=_description(PRICE.name) + "; null clears it"),
    ),
)


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
    **{name: _required(name, strict=False) for name in FEATURES},
)
Cursor = Annotated[int, Field(ge=0, le=MAX_ID)]
Bound = Annotated[float, Field(ge=0, allow_inf_nan=False)]


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


class Page(Strict):
    limit: int = Field(50, ge=1, le=500, description="entries per page")
    cursor: Cursor = absent(description="from the previous page's next_cursor")


class DiamondId(Strict):
    id: int = Field(ge=1, le=MAX_ID, description="the stone's id")


class ModelVersion(Strict):
    version: str = Field(min_length=1, max_length=MAX_NAME, description="a model version")


class RunId(Strict):
    run_id: str = Field(min_length=1, max_length=MAX_NAME, description="a training run's id")


PARTNER = r"^[A-Za-z0-9._-]{1,64}$"
"""A partner's name, as the prediction log records it."""


class MonitoringQuery(Strict):
    window: str = Field(
        "1d",
        pattern=r"^[1-9][0-9]{0,2}[hd]$",
        description="how far back from `end` the stones priced are counted: hours (`12h`) or "
        "days (`30d`), at most 999",
    )
    end: AwareDatetime = absent(
        description="the window's end (default: now; before 2000 counts as 2000, after 9000 "
        "as 9000)"
    )
    partner: str = absent(pattern=PARTNER, description="only the stones this partner's keys priced")


class DriftSeriesQuery(Strict):
    days: int = Field(30, ge=1, le=90, description="days up to today (UTC)")
    partner: str = absent(pattern=PARTNER, description="only the stones this partner's keys priced")


class Promotion(Strict):
    reason: str = Field("promoted through the API", max_length=500)


class RetrainRequest(Strict):
    reason: str = Field("requested through the API", max_length=500)


# -- responses -----------------------------------------------------------------------------------
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class StoredDiamond(Schema):
    """An inventory stone as stored."""

    id: int = Field(ge=1, le=MAX_ID)
    carat: measure("carat") = Field(description=_description("carat"))  # type: ignore[valid-type]
    cut: grade("cut") = Field(description=_description("cut"))  # type: ignore[valid-type]
    color: grade("color") = Field(description=_description("color"))  # type: ignore[valid-type]
    clarity: grade("clarity") = Field(description=_description("clarity"))  # type: ignore[valid-type]
    depth: measure("depth") = Field(description=_description("depth"))  # type: ignore[valid-type]
    table: measure("table") = Field(description=_description("table"))  # type: ignore[valid-type]
    x: measure("x") = Field(description=_description("x"))  # type: ignore[valid-type]
    y: measure("y") = Field(description=_description("y"))  # type: ignore[valid-type]
    z: measure("z") = Field(description=_description("z"))  # type: ignore[valid-type]
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


class DiamondPage(Schema):
    items: list[StoredDiamond]
    next_cursor: Cursor | None = Field(description="pass as `cursor` for the next page")
    total: int = Field(ge=0, description="stones matching the filters")


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


class ModelSummary(Schema):
    version: str
    champion: bool
    created_at: Timestamp | None
    cv_mape: float | None = Field(description="cross-validated MAPE (%)")
    holdout_mape: float | None = Field(description="MAPE (%) on the held-out stones")
    interval_coverage: float | None = Field(
        description="the share of held-out stones whose price the 90% interval held (a fraction)"
    )
    rows: int | None = Field(description="the stones it was trained on")


class ModelList(Schema):
    champion: str | None
    models: list[ModelSummary]


class Errors(Schema):
    """A model's errors on stones it did not train on."""

    n: int = Field(description="stones")
    mae: float = Field(description="mean absolute error (USD)")
    mape: float = Field(description="mean absolute percentage error (%)")
    rmse: float = Field(description="root mean squared error (USD)")
    r2: float = Field(description="R²")


class IntervalErrors(Errors):
    coverage: float = Field(description="the share of prices inside the 90% interval (a fraction)")
    median_relative_width: float = Field(description="the interval's median width (% of price)")


class BandErrors(Errors):
    band: str = Field(description='a carat band, e.g. "0.5–1 ct"')


class BandIntervalErrors(IntervalErrors):
    band: str = Field(description='a carat band, e.g. "0.5–1 ct"')


class CrossValidation(Errors):
    folds: int
    by_carat: list[BandErrors]


class Holdout(IntervalErrors):
    by_carat: list[BandIntervalErrors]


class Metrics(Schema):
    cross_validation: CrossValidation
    holdout: Holdout


class IntervalCalibration(Schema):
    coverage: float = Field(description="the share of prices the interval is calibrated to hold")
    log_offsets: list[list[float]] = Field(
        description="per carat band, the (low, high) offsets of log price"
    )


class SourceFile(Schema):
    uri: str = absent(description="where the file is stored (to callers with a key)")
    sha256: str
    bytes: int
    rows_read: int
    accepted: int
    rejected: int


class Lineage(Schema):
    sources: list[SourceFile] = Field(description="the data files it was trained on")
    rows_read: int
    rows_accepted: int
    rows_rejected: int


class Artifact(Schema):
    sha256: str
    bytes: int


class ModelMetadata(Schema):
    """A model version as registered: parameters, metrics, data lineage, checksums."""

    version: str
    champion: bool = Field(description="whether it is the champion now")
    created_at: Timestamp
    run_id: str = Field(description="the training run that made it")
    params: ModelParams = Field(description="the parameters it was trained with")
    metrics: Metrics
    interval: IntervalCalibration
    lineage: Lineage
    libraries: dict[str, str] = Field(description="library versions it was trained with")
    artifacts: dict[str, Artifact] = Field(description="its files, with their checksums")


class ChampionRecord(Schema):
    """What champion.json holds: the serving version and how it got there."""

    version: str
    promoted_at: Timestamp
    reason: str
    previous: str | None = Field(description="the champion it replaced")


class Gate(Schema):
    tolerance: float = Field(description="how much worse (a share of MAPE) a new model may be")
    decision: Literal["promoted", "candidate"]
    reason: str
    champion: str = absent(description="the champion it was compared with")
    candidate_mape: float = absent(description="its MAPE (%) in that comparison")
    champion_mape: float = absent(description="the champion's MAPE (%) in that comparison")


class RunMetrics(Schema):
    cv_mape: float = Field(description="cross-validated MAPE (%)")
    holdout: Holdout


class RunRequest(Schema):
    """One request for training that a run answers."""

    trigger: str | None = Field(description='what asked: "api", "ingest", "cli", "retry", …')
    reason: str | None
    requested_by: str | None = Field(description='the caller: its key id, or "anonymous"')
    snapshot: str | None = absent(
        description="URI of the inventory snapshot to train on (to callers with a key)"
    )
    rows: int | None = Field(description="stones in that snapshot")
    requested_at: Timestamp


class Run(Schema):
    """A training run: what asked for it, where it is, what it decided."""

    run_id: str
    status: RunStatus
    trigger: str | None = absent(description='what asked for it: "api", "ingest", "cli", …')
    reason: str | None = absent()
    requested_by: str | None = absent(description='the caller: its key id, or "anonymous"')
    snapshot: str | None = absent(
        description="URI of the inventory snapshot it trains on (to callers with a key)"
    )
    rows: int | None = absent(description="stones in the snapshot")
    requests: list[RunRequest] = absent(description="the requests this run answers")
    queued_at: Timestamp = absent()
    behind: str | None = absent(description="the run in progress it waits for")
    job: dict[str, Any] = absent(
        description="the training job: its runner and identity (to callers with a key)"
    )
    started_at: Timestamp = absent()
    stages: dict[str, float] = absent(description="seconds spent in each stage so far")
    finished_at: Timestamp = absent()
    version: str = absent(description="the model version it registered")
    gate: Gate = absent()
    metrics: RunMetrics = absent()
    error: str = absent(description="why it failed")
    retry_of: str = absent(description="the run whose training process died, that this retries")
    retried_by: str = absent(
        description="after its training process died: the run that trains its stones instead"
    )


class RunStarted(Schema):
    run_id: str = Field(description="the run this request became part of")
    status: Literal[RunStatus.QUEUED]
    snapshot: str = Field(description="URI of the inventory snapshot the run trains on")
    rows: int
    status_url: str
    coalesced: bool = Field(
        description="the request joined a follow-up run that earlier requests had asked for"
    )
    running: str | None = Field(
        description="the run in progress that this one waits for (null: it starts now)"
    )
    job: dict[str, Any] | None = Field(
        description="the training job started for it (null: not yet)"
    )


class RunList(Schema):
    runs: list[str] = Field(description="the latest runs' ids, oldest first")
    running: str | None = Field(description="the run holding the training slot")
    queued: str | None = Field(description="the follow-up run waiting for it")


class Ingestion(Schema):
    """One delivery of a data file's event, from the ingestion ledger."""

    id: int
    bucket: str = absent(description="the bucket (or folder) it is in (to callers with a key)")
    name: str = Field(description="the object's name (its key under the DATA root)")
    generation: str
    event: FileEvent = Field(
        description="finalized: this generation was written, and its stones replace the "
        "previous generation's; deleted: the object was deleted, and its stones withdrawn"
    )
    status: FileStatus
    received_at: Timestamp
    finished_at: Timestamp | None
    lease_until: Timestamp | None = Field(
        description="while processing: until when the delivery holds it (it renews the lease "
        "while it works; past this, the delivery died and the next one takes over)"
    )
    attempts: int = Field(description="deliveries that took the file up")
    sha256: str | None
    size: int | None = Field(description="bytes")
    rows_read: int | None
    accepted: int | None
    rejected: int | None = Field(description="rows quarantined with their reasons")
    inserted: int | None = Field(description="accepted stones new to the inventory")
    unchanged: int | None = Field(
        description="accepted stones the previous generation had, or already in the inventory"
    )
    changed: int | None = Field(
        description="stones of the previous generation whose price this one corrects"
    )
    withdrawn: int | None = Field(
        description="stones of the previous generation that this one (or the deletion) no "
        "longer has: they left the inventory, unless another file brings them"
    )
    stored_at: Timestamp | None
    scored_at: Timestamp | None
    champion_version: str | None = Field(description="the champion when the file arrived")
    champion_mape: float | None = Field(
        description="its MAPE (%) on the file's stones it never trained on, before retraining"
    )
    champion_scored: int | None = Field(description="how many stones that MAPE is over")
    champion_coverage: float | None = Field(
        description="the share of those stones inside its 90% interval"
    )
    run_id: str | None = Field(description="the training run the file asked for")
    error: str | None


class IngestionPage(Schema):
    items: list[Ingestion]
    next_cursor: Cursor | None = Field(description="pass as `cursor` for the next page")


class FieldError(Schema):
    field: str = Field(
        description="an RFC 6901 JSON pointer to the offending input: into the JSON body "
        "(`/cut`, `/1/price`; the empty pointer is the whole body), or to a query or path "
        "parameter (`/query/limit`, `/path/id`)"
    )
    detail: str = Field(description="what is wrong with it")


class ProblemDetails(Schema):
    """RFC 9457 problem details."""

    type: str = Field(
        description="the problem's type: a link to its description on the docs page; "
        f"`{IMPLAUSIBLE}` for a stone refused by the domain rule"
    )
    title: str
    status: int
    detail: str
    errors: list[FieldError] = absent(description="one entry per offending input")


class DriftBin(Schema):
    label: str = Field(description="the bin (a measurement's range, or a grade)")
    reference: float = Field(description="the share of the training stones in it")
    live: float = Field(description="the share of the stones priced in it")


class DriftFigure(Schema):
    """One characteristic's distances against the champion's training stones."""

    name: str = Field(description="a characteristic of the stone, or `price` (the price given)")
    js_distance: float | None = Field(
        description="Jensen-Shannon distance, natural logarithm (0 to √ln 2 ≈ 0.833); null "
        "when no stone was priced"
    )
    psi: float | None = Field(
        description="population stability index (measurements and price; null for a grade)"
    )
    threshold: float = Field(description="the Jensen-Shannon distance past which it drifted")
    crossed: bool | None = Field(
        description="whether the distance is past the threshold; null when too few stones "
        "were priced for a verdict"
    )


class CharacteristicDrift(DriftFigure):
    kind: Literal["measurement", "grade"]
    bins: list[DriftBin]


class FactorDrift(Schema):
    characteristic: str = Field(description="a characteristic of the explanation")
    reference: float = Field(description="its factor's geometric mean on the training stones")
    live: float | None = Field(description="… on the stones priced (null: none with factors)")
    shift: float | None = Field(description="live / reference: the part of the price it moved")
    threshold: float = Field(description="how far the shift may be from 1 before it moved")
    moved: bool | None = Field(description="null when too few stones were explained")


class ReferenceSummary(Schema):
    version: str = Field(description="the champion whose training stones are the reference")
    stones: int


class Drift(Schema):
    """The stones priced in a window against the champion's training stones."""

    start: Timestamp
    end: Timestamp
    partner: str | None
    stones: int = Field(description="stones priced in the window (refused ones are not)")
    explained_stones: int = Field(
        description="the stones priced whose factors were logged (one in eight)"
    )
    factor_means: dict[str, float | None] = Field(
        description="the mean log factor of each characteristic over those"
    )
    model_versions: dict[str, int] = Field(description="stones priced by each model version")
    refused_requests: int = Field(description="pricing requests refused in the window")
    refused_stones: int = Field(description="the stones they held")
    reference: ReferenceSummary | None = Field(description="null: no champion yet")
    characteristics: list[CharacteristicDrift]
    price: CharacteristicDrift | None = Field(description="the prices given")
    factors: list[FactorDrift]


class FileAccuracy(Schema):
    id: int = Field(description="the ingestion ledger's entry")
    name: str = Field(description="the data file")
    scored_at: Timestamp
    model_version: str = Field(description="the champion that priced its fresh stones")
    stones: int | None = Field(description="fresh stones scored")
    mape: float = Field(description="MAPE (%) on them")
    coverage: float | None = Field(description="the share inside the 90% interval")
    cv_mape: float | None = Field(description="that model's own cross-validated MAPE (%)")
    alert: bool | None = Field(description="whether the MAPE is past alert_ratio × cv_mape")


class Accuracy(Schema):
    """The champion's error on fresh appraisals, file after file, oldest first."""

    champion: str | None
    cv_mape: float | None = Field(description="the champion's cross-validated MAPE (%)")
    alert_ratio: float
    files: list[FileAccuracy]


class MonitoringReport(Schema):
    drift: Drift
    accuracy: Accuracy


class DriftDay(Schema):
    day: str = Field(description="a day (UTC), YYYY-MM-DD")
    stones: int
    characteristics: list[DriftFigure]


class DriftSeries(Schema):
    """Each characteristic's drift, day after day."""

    start: Timestamp
    end: Timestamp
    partner: str | None
    reference: ReferenceSummary | None
    days: list[DriftDay]


# -- partners ------------------------------------------------------------------------------------
Scope = Literal["price", "read", "write", "admin"]
PartnerNameText = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description="lower-case letters, digits, . _ -; 1 to 64, never reused",
    ),
]
KeyIdText = Annotated[str, Field(pattern=r"^[a-z2-7]{12}$", description="a key's id")]
Month = Annotated[str, Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


class PartnerNew(Strict):
    name: PartnerNameText
    contact: str = Field(min_length=1, max_length=320, description="who to write to")
    requests_per_minute: int = Field(60, ge=1, le=1_000_000)
    stones_per_month: int = Field(100_000, ge=1, le=10**12)
    scopes: list[Scope] = Field(
        ["price"], min_length=1, max_length=4, description="the scopes its keys may hold"
    )


class PartnerPath(Strict):
    name: PartnerNameText


class KeyPath(Strict):
    name: PartnerNameText
    key_id: KeyIdText


class KeyRequest(Strict):
    scopes: list[Scope] = absent(
        min_length=1, max_length=4, description="the key's scopes: the plan's, or fewer"
    )
    expires_in_days: int = absent(ge=1, le=3650, description="the key stops after so many days")


class Rotation(Strict):
    grace_hours: float = Field(24.0, ge=0, le=720, description="how long the old key keeps working")


class UsageQuery(Strict):
    month: Month = absent(description="the month, YYYY-MM (UTC); this month by default")
    partner: PartnerNameText = absent(description="one partner's (an admin key may ask any)")


class Partner(Schema):
    name: str
    contact: str
    requests_per_minute: int
    stones_per_month: int
    scopes: list[Scope]
    created_at: Timestamp
    deleted_at: Timestamp | None


class PartnerList(Schema):
    partners: list[Partner]


class Key(Schema):
    """A key, without its secret."""

    id: str = Field(description="the key's id, in the key after `dmd_live_`")
    prefix: str = Field(description="how the key begins: enough to recognise it")
    partner: str
    scopes: list[Scope]
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None = Field(description="when it stopped, or stops (a rotation)")
    last_used_at: Timestamp | None = Field(description="to within a few seconds")
    replaced_by: str | None = Field(description="the key a rotation issued in its place")


class IssuedKey(Key):
    key: str = Field(description="the key itself, `dmd_live_<id>_<secret>`: shown only now")


class PartnerDetail(Partner):
    keys: list[Key]


class KeyList(Schema):
    keys: list[Key]


class UsageCounts(Schema):
    requests: int
    stones: int = Field(description="stones priced")
    refused: int = Field(description="requests answered with a 4xx")
    errors: int = Field(description="requests answered with a 5xx")
    p50_ms: float | None = Field(description="median latency, to the width of a bucket")
    p95_ms: float | None


class UsageDay(UsageCounts):
    partner: str
    day: str
    route: str = Field(description="the method and path: `POST /v1/price`")


class UsageTotal(UsageCounts):
    partner: str
    stones_per_month: int | None = Field(description="the partner's quota")


class UsageReport(Schema):
    month: str
    partners: list[UsageTotal]
    days: list[UsageDay]
