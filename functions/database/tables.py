"""The tables: the inventory's stones, the data files that brought them, the prediction log
and the stones it priced, the ledger of ingested files, the answers kept for idempotent
requests, and the partners, their keys and their usage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from functions.database.columns import Document, Real, UTCDateTime, utcnow
from training.record import CATEGORIES, COLUMNS, FEATURES, FIELD_BY_NAME

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""How indexes and constraints are named when a migration written by autogenerate creates
them, as the earlier migrations named theirs. Check constraints are named where they are made
(`ck_<table>_<column>`): a convention would rename those the migrations already made."""


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


def _check(name: str) -> sa.CheckConstraint:
    """The valid values of a record field, as the schema defines them: (low, high] or a grade.

    A NULL passes a CHECK, so the same rule serves the nullable price.
    """
    column = sa.column(name)
    if name in CATEGORIES:
        rule = column.in_(CATEGORIES[name])
    else:
        spec = FIELD_BY_NAME[name]
        rule = sa.and_(column > spec.low, column <= spec.high)
    return sa.CheckConstraint(rule, name=f"ck_diamonds_{name}")


def _feature_column(name: str) -> sa.Column[Any]:
    if name in CATEGORIES:
        return sa.Column(name, sa.String(max(map(len, CATEGORIES[name]))), nullable=False)
    return sa.Column(name, Real, nullable=False)


class DiamondRow(Base):
    """A stone in the inventory. Its record fields come from training.record.FEATURES."""

    __table__ = sa.Table(
        "diamonds",
        Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *(_feature_column(name) for name in FEATURES),
        sa.Column("price", Real, nullable=True),
        sa.Column("source", sa.String(1024), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
        sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
        sa.Column("fingerprint", sa.String(16), nullable=False, index=True),
        sa.Column("revision", sa.Integer, nullable=False, default=1, server_default="1"),
        *(_check(name) for name in COLUMNS),
        sa.Index("ix_diamonds_comparables", "cut", "color", "clarity", "carat"),
        sqlite_autoincrement=True,
    )

    id: Mapped[int]
    price: Mapped[float | None]
    source: Mapped[str | None]
    """"api" for a stone added or changed by hand, "ingest:<ledger id>" for one a file added."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    fingerprint: Mapped[str]
    """training.record.fingerprint of its COLUMNS: finds an identical stone by index."""
    revision: Mapped[int]
    """Counts the stone's changes: its ETag, for conditional requests."""


class DataFile(Base):
    """An object of the DATA root whose stones the inventory holds (or held until it was
    deleted): the generation they came from. Generations only move forward, so a late event
    about an older generation changes nothing."""

    __tablename__ = "data_files"
    __table_args__ = (sa.UniqueConstraint("bucket", "name", name="uq_data_files_object"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(1024))
    generation: Mapped[str] = mapped_column(sa.String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FileStone(Base):
    """A stone a data file's current generation brings. A stone no file brings any more, and
    that no one added by hand, leaves the inventory."""

    __tablename__ = "file_stones"

    file_id: Mapped[int] = mapped_column(
        sa.ForeignKey("data_files.id", ondelete="CASCADE"), primary_key=True
    )
    stone_id: Mapped[int] = mapped_column(
        sa.ForeignKey("diamonds.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PredictionLogEntry(Base):
    """One pricing request: who asked, what came back, how long it took."""

    __tablename__ = "prediction_log"
    __table_args__ = (sa.Index("ix_prediction_log_partner_created_at", "partner", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, default=utcnow)
    model_version: Mapped[str | None] = mapped_column(sa.String(128))
    latency_ms: Mapped[float] = mapped_column(Real)
    caller: Mapped[str] = mapped_column(sa.String(64))
    partner: Mapped[str | None] = mapped_column(sa.String(64))
    """The partner whose key priced, if a partner's key did."""
    key_id: Mapped[str | None] = mapped_column(sa.String(64))
    n_stones: Mapped[int | None]
    status: Mapped[int]
    request: Mapped[Any | None] = mapped_column(Document)
    response: Mapped[Any | None] = mapped_column(Document)


class PricedStone(Base):
    """One stone a pricing request priced: its features (grades as their codes, worst = 0),
    the price given and its log factor per characteristic, so that drift is an aggregation.
    Written beside its request's log entry; refused stones have none."""

    __tablename__ = "priced_stones"
    __table_args__ = (sa.Index("ix_priced_stones_partner_created_at", "partner", "created_at"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    partner: Mapped[str | None] = mapped_column(sa.String(64))
    model_version: Mapped[str] = mapped_column(sa.String(128))
    carat: Mapped[float] = mapped_column(Real)
    cut: Mapped[int] = mapped_column(sa.SmallInteger)
    color: Mapped[int] = mapped_column(sa.SmallInteger)
    clarity: Mapped[int] = mapped_column(sa.SmallInteger)
    depth: Mapped[float] = mapped_column(Real)
    table: Mapped[float] = mapped_column(Real)
    x: Mapped[float] = mapped_column(Real)
    y: Mapped[float] = mapped_column(Real)
    z: Mapped[float] = mapped_column(Real)
    price: Mapped[float] = mapped_column(Real)
    factor_carat: Mapped[float | None] = mapped_column(Real)
    factor_cut: Mapped[float | None] = mapped_column(Real)
    factor_color: Mapped[float | None] = mapped_column(Real)
    factor_clarity: Mapped[float | None] = mapped_column(Real)
    factor_proportions: Mapped[float | None] = mapped_column(Real)
    """The log factors: None when the model that priced no longer served when it was logged."""


class IngestedFile(Base):
    """A data file delivered for ingestion; (bucket, name, generation) identifies one delivery.

    The ledger of the pipeline: who holds the file (a claim token and its lease), how far its
    ingestion went (stored_at, scored_at, run_id) and what it found.
    """

    __tablename__ = "ingested_files"
    __table_args__ = (
        sa.UniqueConstraint(
            "bucket", "name", "generation", "event", name="uq_ingested_files_event"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(1024))
    generation: Mapped[str] = mapped_column(sa.String(64))
    event: Mapped[str] = mapped_column(sa.String(16), default="finalized")
    """What happened to the object: "finalized" (written) or "deleted"."""
    status: Mapped[str] = mapped_column(sa.String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows_read: Mapped[int | None]
    accepted: Mapped[int | None]
    rejected: Mapped[int | None]
    report: Mapped[Any | None] = mapped_column(Document)
    run_id: Mapped[str | None] = mapped_column(sa.String(128))
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    inserted: Mapped[int | None]
    unchanged: Mapped[int | None]
    changed: Mapped[int | None]
    """Stones of the previous generation whose price this one corrects."""
    withdrawn: Mapped[int | None]
    """Stones of the previous generation this one (or the object's deletion) no longer has."""
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    champion_version: Mapped[str | None] = mapped_column(sa.String(128))
    champion_mape: Mapped[float | None] = mapped_column(Real)
    champion_scored: Mapped[int | None]
    champion_coverage: Mapped[float | None] = mapped_column(Real)
    """The share of the scored stones inside the champion's 90% interval."""
    error: Mapped[str | None] = mapped_column(sa.String(2000))


class IdempotentRequest(Base):
    """The first answer to a POST sent with an Idempotency-Key, kept for a day: the same key
    from the same caller gets it again; another body under that key is refused."""

    __tablename__ = "idempotent_requests"

    caller: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.String(1024))
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, default=utcnow)
    status: Mapped[int | None]
    """None while the first request is being served."""
    headers: Mapped[Any | None] = mapped_column(Document)
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


class Partner(Base):
    """A business that prices through the API, and its plan. A deleted partner is kept (its
    usage is still invoiced, its name never given again); its keys stop at once."""

    __tablename__ = "partners"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    contact: Mapped[str] = mapped_column(sa.String(320))
    requests_per_minute: Mapped[int]
    stones_per_month: Mapped[int] = mapped_column(sa.BigInteger)
    scopes: Mapped[str] = mapped_column(sa.String(64))
    """The scopes its keys may hold, space-separated."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A partner's key, known by its id; the secret is kept only as its SHA-256 digest (it is
    random enough that a slow hash would add nothing)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    partner: Mapped[str] = mapped_column(sa.ForeignKey("partners.name"), index=True)
    secret_sha256: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, default=utcnow)
    """When it was issued, revoked or given an expiry: what a serving instance reloads on."""
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Written with the usage, at most once per key per write: never a write per request."""
    replaced_by: Mapped[str | None] = mapped_column(sa.String(16))
    """The key a rotation issued in its place."""


class UsageCount(Base):
    """What one key of one partner asked of one route on one day (UTC): counted once per
    request, added up by the instances that served them."""

    __tablename__ = "usage"

    partner: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    route: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """The method and the route's path: `POST /v1/price`, `GET /v1/diamonds/{id}`."""
    requests: Mapped[int] = mapped_column(sa.BigInteger)
    stones: Mapped[int] = mapped_column(sa.BigInteger)
    """Stones priced (answered with a price)."""
    refused: Mapped[int] = mapped_column(sa.BigInteger)
    """Answered with a 4xx."""
    errors: Mapped[int] = mapped_column(sa.BigInteger)
    """Answered with a 5xx."""
    latency: Mapped[Any] = mapped_column(Document)
    """Requests by latency bucket (functions/http/metering.py's BUCKETS_MS)."""


DIAMONDS = DiamondRow.__table__
DATA_FILES = DataFile.__table__
FILE_STONES = FileStone.__table__
IDEMPOTENT_REQUESTS = IdempotentRequest.__table__
PREDICTION_LOG = PredictionLogEntry.__table__
PRICED_STONES = PricedStone.__table__
INGESTED_FILES = IngestedFile.__table__
PARTNERS = Partner.__table__
API_KEYS = ApiKey.__table__
USAGE = UsageCount.__table__
