"""Models, training runs and ingestions: what the models function and retrain take and answer."""

from typing import Any, Literal

from pydantic import Field

from functions.payloads.schema import MAX_NAME, Cursor, Schema, Strict, Timestamp, absent
from functions.statuses import FileEvent, FileStatus
from training.params import ModelParams
from training.statuses import RunStatus


class Page(Strict):
    limit: int = Field(50, ge=1, le=500, description="entries per page")
    cursor: Cursor = absent(description="from the previous page's next_cursor")


class ModelVersion(Strict):
    version: str = Field(min_length=1, max_length=MAX_NAME, description="a model version")


class RunId(Strict):
    run_id: str = Field(min_length=1, max_length=MAX_NAME, description="a training run's id")


class Promotion(Strict):
    reason: str = Field("promoted through the API", max_length=500)


class RetrainRequest(Strict):
    reason: str = Field("requested through the API", max_length=500)


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
