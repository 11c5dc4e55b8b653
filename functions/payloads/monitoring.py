"""Monitoring's queries and reports: drift and accuracy."""

from typing import Literal

from pydantic import AwareDatetime, Field

from functions.payloads.schema import (
    Schema,
    Strict,
    Timestamp,
    absent,
)

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
