"""The database: the diamond inventory, the prediction log and the ingested data files.

One schema serves SQLite (local) and PostgreSQL (Cloud SQL); the Alembic migrations in
`functions/migrations` create and upgrade it, `migrate()` applies them. The repositories
(`Inventory`, `PredictionLog`, `IngestedFiles`) return plain dicts with ISO-8601 timestamps, so
the HTTP layer can serialise their results as they are.

Each write to a row is one INSERT, UPDATE or DELETE (with RETURNING where a row comes back), so it
is atomic on both databases, with no read-modify-write race.
"""

from __future__ import annotations

import csv
import io
import math
import operator
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import JSON, Dialect, Engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from training.schema import CATEGORIES, COLUMNS, FEATURES, FIELD_BY_NAME

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_POOL_SIZE = 5
_MIGRATION_LOCK_KEY = 0x6469616D  # any constant shared by all instances: "diam"
_SQLITE_BEGIN = "diamonds_sqlite_begin"
_ALEMBIC = threading.Lock()
"""Alembic keeps its migration context in module globals: one upgrade at a time per process."""

FILE_PROCESSING, FILE_DONE, FILE_FAILED = "processing", "done", "failed"
FILE_REJECTED, FILE_SKIPPED = "rejected", "skipped"
"""The statuses of an ingested file: being ingested; ingested; failed (a later delivery may try
again); rejected (unusable as a whole, quarantined); skipped (that generation no longer exists)."""
_FINAL = (FILE_DONE, FILE_REJECTED, FILE_SKIPPED)
_INVENTORY_LOCK_KEY = 0x64696E76  # "dinv": serialises bulk ingestion into the inventory


class InvalidRecord(ValueError):
    """A record the inventory refuses; `field` names the offending field when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores datetimes naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value}: timestamps must carry a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Real(sa.TypeDecorator[float]):
    """A float column that reads back as float (SQLite's RETURNING can give 326 for 326.0)."""

    impl = sa.Float
    cache_ok = True

    def process_result_value(self, value: float | None, dialect: Dialect) -> float | None:
        return None if value is None else float(value)


_JSON = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


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


class Diamond(Base):
    """A stone in the inventory. Its record fields come from training.schema.FEATURES."""

    __table__ = sa.Table(
        "diamonds",
        Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *(_feature_column(name) for name in FEATURES),
        sa.Column("price", Real, nullable=True),
        sa.Column("source", sa.String(1024), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
        sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
        *(_check(name) for name in COLUMNS),
        sa.Index("ix_diamonds_comparables", "cut", "color", "clarity", "carat"),
        sqlite_autoincrement=True,
    )

    id: Mapped[int]
    price: Mapped[float | None]
    source: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PredictionLogEntry(Base):
    """One pricing request: who asked, what came back, how long it took."""

    __tablename__ = "prediction_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, default=utcnow)
    model_version: Mapped[str | None] = mapped_column(sa.String(128))
    latency_ms: Mapped[float] = mapped_column(Real)
    caller: Mapped[str] = mapped_column(sa.String(64))
    n_stones: Mapped[int | None]
    status: Mapped[int]
    request: Mapped[Any | None] = mapped_column(_JSON)
    response: Mapped[Any | None] = mapped_column(_JSON)


class IngestedFile(Base):
    """A data file delivered for ingestion; (bucket, name, generation) identifies one delivery.

    The ledger of the pipeline: who holds the file (a claim token and its lease), how far its
    ingestion went (stored_at, scored_at, run_id) and what it found.
    """

    __tablename__ = "ingested_files"
    __table_args__ = (
        sa.UniqueConstraint("bucket", "name", "generation", name="uq_ingested_files_object"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(1024))
    generation: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows_read: Mapped[int | None]
    accepted: Mapped[int | None]
    rejected: Mapped[int | None]
    report: Mapped[Any | None] = mapped_column(_JSON)
    run_id: Mapped[str | None] = mapped_column(sa.String(128))
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    inserted: Mapped[int | None]
    unchanged: Mapped[int | None]
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    champion_version: Mapped[str | None] = mapped_column(sa.String(128))
    champion_mape: Mapped[float | None] = mapped_column(Real)
    champion_scored: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.String(2000))


_DIAMONDS = Diamond.__table__
_LOG = PredictionLogEntry.__table__
_FILES = IngestedFile.__table__


def _json(document: Any) -> str:
    """JSON columns via orjson: a logged 10,000-stone request serialises in milliseconds."""
    return orjson.dumps(document).decode()


def make_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL (`postgresql://` means psycopg 3)."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=2 * POSTGRES_POOL_SIZE,
            pool_recycle=1800,
            json_serializer=_json,
        )
    raise ValueError(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")


def create_database(url: str) -> None:
    """Create the PostgreSQL database `url` names if it does not exist yet (a SQLite file is
    created on first use)."""
    engine = make_engine(url)
    if engine.dialect.name != "postgresql":
        return
    name = engine.url.database
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if found is None:
                quoted = connection.dialect.identifier_preparer.quote(name)
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()
        engine.dispose()


def _sqlite_engine(url: sa.URL) -> Engine:
    """SQLite with WAL and real transactions.

    Python's sqlite3 module does not BEGIN before a SELECT or DDL statement; SQLAlchemy's
    documented recipe switches that off and emits BEGIN itself, so reads are consistent and a
    migration is atomic. A connection can ask for BEGIN IMMEDIATE (take the write lock first).
    """
    if url.database in (None, "", ":memory:"):
        raise ValueError(
            "in-memory SQLite is not supported (each connection is a new, empty "
            "database): use a file, sqlite:///path/to/diamonds.db"
        )
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False}, json_serializer=_json)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))

    return engine


def migrate(engine_or_url: Engine | str) -> None:
    """Bring the database schema to the latest migration; a no-op when it is there already.

    Safe from several processes and threads at once: on PostgreSQL an advisory lock serialises
    the upgrade, on SQLite its transaction takes the write lock before it looks at the schema.
    """
    from alembic import command
    from alembic.config import Config

    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with _ALEMBIC, engine.connect() as connection:
            connection.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY))
                    )
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    finally:
        if engine is not engine_or_url:
            engine.dispose()


def _sessions(bind: Engine | sessionmaker[Session]) -> sessionmaker[Session]:
    return sessionmaker(bind) if isinstance(bind, Engine) else bind


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    """A row as plain data: str keys (not SQLAlchemy's quoted names), ISO-8601 timestamps."""
    return {
        str(key): value.isoformat() if isinstance(value, datetime) else value
        for key, value in row._mapping.items()
    }


_VIOLATED_FIELD = re.compile(r'ck_diamonds_(\w+)|diamonds\.(\w+)|column "(\w+)"')


def _invalid(error: IntegrityError) -> InvalidRecord:
    message = str(error.orig).splitlines()[0]
    found = _VIOLATED_FIELD.search(message)
    field = next((g for g in found.groups() if g), None) if found else None
    return InvalidRecord(f"refused by the database: {message}", field)


def _record(record: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The column values of a record: every feature and an optional price, or (`partial`) some."""
    unknown = sorted(set(record) - set(COLUMNS))
    if unknown:
        raise InvalidRecord(f"unknown fields: {', '.join(unknown)}", unknown[0])
    missing = [] if partial else [name for name in FEATURES if name not in record]
    if missing:
        raise InvalidRecord(f"missing fields: {', '.join(missing)}", missing[0])
    values = dict(record) if partial else {"price": None, **record}
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidRecord(f"{name} must be a finite number, got {value}", name)
    return values


_RANGE_FILTERS = {
    "carat_min": ("carat", operator.ge),
    "carat_max": ("carat", operator.le),
    "price_min": ("price", operator.ge),
    "price_max": ("price", operator.le),
}


def _conditions(filters: Mapping[str, Any] | None) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses for list filters; a grade filter may be one value or a list of them."""
    conditions = []
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key in CATEGORIES:
            values = [value] if isinstance(value, str) else list(value)
            conditions.append(_DIAMONDS.c[key].in_(values))
        elif key in _RANGE_FILTERS:
            name, compare = _RANGE_FILTERS[key]
            conditions.append(compare(_DIAMONDS.c[name], value))
        else:
            raise ValueError(f"unknown filter: {key}")
    return conditions


class Inventory:
    """The stones in stock. Records are dicts with the FEATURES keys and an optional price."""

    def __init__(self, bind: Engine | sessionmaker[Session]) -> None:
        self._sessions = _sessions(bind)

    @contextmanager
    def _write(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except IntegrityError as error:
            raise _invalid(error) from error

    def create_many(self, records: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
        """Insert all records in one transaction (all or none); the created rows, in order."""
        now = utcnow()
        rows = [
            {**_record(r), "source": source, "created_at": now, "updated_at": now} for r in records
        ]
        if not rows:
            return []
        insert = sa.insert(_DIAMONDS).returning(*_DIAMONDS.c, sort_by_parameter_order=True)
        with self._write() as session:
            return [_as_dict(row) for row in session.execute(insert, rows)]

    def get(self, id: int) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.execute(sa.select(_DIAMONDS).where(_DIAMONDS.c.id == id)).first()
        return _as_dict(row) if row else None

    def list(
        self, filters: Mapping[str, Any] | None = None, limit: int = 100, cursor: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of stones by ascending id, after id `cursor`; and the next page's cursor.

        Filters: cut, color, clarity (a value or a list), carat_min, carat_max, price_min,
        price_max (inclusive); None values are ignored.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = (
            sa.select(_DIAMONDS)
            .where(*_conditions(filters))
            .order_by(_DIAMONDS.c.id)
            .limit(limit + 1)
        )
        if cursor is not None:
            query = query.where(_DIAMONDS.c.id > cursor)
        with self._sessions() as session:
            rows = session.execute(query).all()
        page = [_as_dict(row) for row in rows[:limit]]
        return page, page[-1]["id"] if len(rows) > limit else None

    def count(self, filters: Mapping[str, Any] | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(_DIAMONDS).where(*_conditions(filters))
        with self._sessions() as session:
            return session.execute(query).scalar_one()

    def replace(self, id: int, record: dict[str, Any]) -> dict[str, Any] | None:
        """Overwrite a stone's record (a missing price becomes None); None if no such id."""
        return self._update(id, _record(record))

    def patch(
        self,
        id: int,
        changes: dict[str, Any],
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any] | None:
        """Change some fields of a stone; None if no such id. `check` sees the whole stone as
        the change would leave it and may refuse it by raising: the stone cannot change in
        between (the write lock is held)."""
        values = _record(changes, partial=True)
        if check is None:
            return self._update(id, values)
        with _exclusive(self._sessions) as session:
            row = session.execute(sa.select(_DIAMONDS).where(_DIAMONDS.c.id == id)).first()
            if row is None:
                return None
            check({**{name: row._mapping[name] for name in COLUMNS}, **values})
            update = (
                sa.update(_DIAMONDS)
                .where(_DIAMONDS.c.id == id)
                .values(**values, updated_at=utcnow())
                .returning(*_DIAMONDS.c)
            )
            return _as_dict(session.execute(update).one())

    def _update(self, id: int, values: dict[str, Any]) -> dict[str, Any] | None:
        update = (
            sa.update(_DIAMONDS)
            .where(_DIAMONDS.c.id == id)
            .values(**values, updated_at=utcnow())
            .returning(*_DIAMONDS.c)
        )
        with self._write() as session:
            row = session.execute(update).first()
        return _as_dict(row) if row else None

    def delete(self, id: int) -> bool:
        delete = sa.delete(_DIAMONDS).where(_DIAMONDS.c.id == id).returning(_DIAMONDS.c.id)
        with self._write() as session:
            return session.execute(delete).first() is not None

    def comparables(
        self, cut: str, color: str, clarity: str, carat: float, n: int = 5
    ) -> list[dict[str, Any]]:
        """Up to `n` priced stones of the same grades, nearest carat first.

        Two range scans of the (cut, color, clarity, carat) index, one each side of `carat`,
        instead of sorting the whole group by distance.
        """
        if n < 1:
            return []
        c = _DIAMONDS.c
        same = sa.select(_DIAMONDS).where(
            c.cut == cut, c.color == color, c.clarity == clarity, c.price.is_not(None)
        )
        heavier = same.where(c.carat >= carat).order_by(c.carat, c.id).limit(n)
        lighter = same.where(c.carat < carat).order_by(c.carat.desc(), c.id.desc()).limit(n)
        with self._sessions() as session:
            rows = [*session.execute(heavier), *session.execute(lighter)]
        rows.sort(key=lambda row: (abs(row.carat - carat), row.carat, row.id))
        return [_as_dict(row) for row in rows[:n]]

    def priced_records_csv(self) -> tuple[bytes, int]:
        """Every priced stone as a training CSV (header: training.schema.COLUMNS), and how many."""
        query = (
            sa.select(*(_DIAMONDS.c[name] for name in COLUMNS))
            .where(_DIAMONDS.c.price.is_not(None))
            .order_by(_DIAMONDS.c.id)
        )
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(COLUMNS)
        count = 0
        with self._sessions() as session:
            for row in session.execute(query, execution_options={"yield_per": 2000}):
                writer.writerow(row)
                count += 1
        return text.getvalue().encode(), count


class PredictionLog:
    """The log of pricing requests. Entries are dicts of PredictionLogEntry's columns (no id);
    a missing created_at means now."""

    _OPTIONAL = ("model_version", "n_stones", "request", "response")

    def __init__(self, bind: Engine | sessionmaker[Session]) -> None:
        self._sessions = _sessions(bind)

    def write_many(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        now = utcnow()
        rows = [{"created_at": now, **dict.fromkeys(self._OPTIONAL), **e} for e in entries]
        with self._sessions.begin() as session:
            session.execute(sa.insert(_LOG), rows)


@dataclass(frozen=True)
class Claim:
    """A delivery's hold on a file: only the holder of `token` may write the file's progress."""

    id: int
    bucket: str
    name: str
    generation: str
    token: str
    attempt: int
    stored: bool
    """An earlier delivery already stored the file's stones (and then failed)."""
    scored: bool
    """An earlier delivery already scored the champion on them."""


class LostClaim(RuntimeError):
    """The delivery no longer holds the file: its lease lapsed and another delivery took over."""


class IngestedFiles:
    """The ledger of data files taken up for ingestion (see IngestedFile).

    Delivery is at least once: `claim` lets exactly one delivery of a file through at a time,
    for `lease` seconds. A file whose ingestion failed, or whose holder stopped answering (its
    lease lapsed), may be claimed again, and the new holder carries on from where the file got.
    """

    def __init__(self, bind: Engine | sessionmaker[Session]) -> None:
        self._sessions = _sessions(bind)

    @staticmethod
    def _key(bucket: str, name: str, generation: str | int) -> list[sa.ColumnElement[bool]]:
        c = _FILES.c
        return [c.bucket == bucket, c.name == name, c.generation == str(generation)]

    @staticmethod
    def _held(claim: Claim) -> list[sa.ColumnElement[bool]]:
        c = _FILES.c
        return [c.id == claim.id, c.claim_token == claim.token, c.status == FILE_PROCESSING]

    def claim(self, bucket: str, name: str, generation: str | int, lease: float) -> Claim | None:
        """Hold the file for `lease` seconds; None if another delivery holds it or it is done
        (`get` says which)."""
        now = utcnow()
        hold = {
            "status": FILE_PROCESSING,
            "claim_token": secrets.token_hex(16),
            "lease_until": now + timedelta(seconds=lease),
            "finished_at": None,
        }
        try:
            with self._sessions.begin() as session:
                session.execute(
                    sa.insert(_FILES).values(
                        bucket=bucket,
                        name=name,
                        generation=str(generation),
                        received_at=now,
                        attempts=1,
                        **hold,
                    )
                )
        except IntegrityError:
            c = _FILES.c
            takeover = (
                sa.update(_FILES)
                .where(
                    *self._key(bucket, name, generation),
                    sa.or_(
                        c.status == FILE_FAILED,
                        sa.and_(c.status == FILE_PROCESSING, c.lease_until < now),
                    ),
                )
                .values(**hold, attempts=c.attempts + 1)
                .returning(c.id)
            )
            with self._sessions.begin() as session:
                if session.execute(takeover).first() is None:
                    return None
        row = self.get(bucket, name, generation)
        assert row is not None
        return Claim(
            row["id"],
            bucket,
            name,
            str(generation),
            hold["claim_token"],
            row["attempts"],
            stored=row["stored_at"] is not None,
            scored=row["scored_at"] is not None,
        )

    def update(self, claim: Claim, **fields: Any) -> dict[str, Any]:
        """Record the file's progress while holding it; LostClaim if it is held no more."""
        return self._update(claim, fields)

    def finish(self, claim: Claim, status: str = FILE_DONE, **fields: Any) -> dict[str, Any]:
        """Record the outcome and let go of the file. FILE_FAILED lets a later delivery retry."""
        return self._update(
            claim, {**fields, "status": status, "finished_at": utcnow(), "lease_until": None}
        )

    _FIELDS = frozenset(c.name for c in _FILES.c) - {
        *("id", "bucket", "name", "generation", "received_at", "claim_token", "attempts"),
        *("stored_at", "inserted", "unchanged"),
    }
    """What a holder may record; the identity, the claim and the stored counts are set by
    claim() and store() alone."""

    def _update(self, claim: Claim, fields: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - self._FIELDS)
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}")
        if isinstance(fields.get("error"), str):
            fields["error"] = fields["error"][:2000]
        update = sa.update(_FILES).where(*self._held(claim)).values(**fields).returning(*_FILES.c)
        with self._sessions.begin() as session:
            row = session.execute(update).first()
        if row is None:
            raise LostClaim(f"{claim.name}#{claim.generation} is held by another delivery")
        return _as_dict(row)

    def store(self, claim: Claim, records: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        """Add the file's accepted stones to the inventory and record it, in one transaction.

        A stone identical to one already in the inventory (every characteristic and the price)
        is counted as unchanged, not stored twice: ingesting the same content again changes
        nothing. Returns the ledger row (with `inserted` and `unchanged`).
        """
        with _exclusive(self._sessions) as session:
            held = session.execute(sa.select(_FILES.c.id).where(*self._held(claim))).first()
            if held is None:
                raise LostClaim(f"{claim.name}#{claim.generation} is held by another delivery")
            new = _not_stored(session, [_record(r) for r in records])
            if new:
                now = utcnow()
                source = f"ingest:{claim.id}"
                session.execute(
                    sa.insert(_DIAMONDS),
                    [{**r, "source": source, "created_at": now, "updated_at": now} for r in new],
                )
            done = {
                "stored_at": utcnow(),
                "inserted": len(new),
                "unchanged": len(records) - len(new),
            }
            update = (
                sa.update(_FILES)
                .where(_FILES.c.id == claim.id)
                .values(**fields, **done)
                .returning(*_FILES.c)
            )
            return _as_dict(session.execute(update).one())

    def get(self, bucket: str, name: str, generation: str | int) -> dict[str, Any] | None:
        query = sa.select(_FILES).where(*self._key(bucket, name, generation))
        with self._sessions() as session:
            row = session.execute(query).first()
        return _as_dict(row) if row else None

    def list(
        self, limit: int = 50, cursor: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of the ledger, newest first (ids below `cursor`), and the next cursor."""
        query = sa.select(*_LEDGER_COLUMNS).order_by(_FILES.c.id.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(_FILES.c.id < cursor)
        with self._sessions() as session:
            rows = session.execute(query).all()
        page = [_as_dict(row) for row in rows[:limit]]
        return page, page[-1]["id"] if len(rows) > limit else None


_LEDGER_COLUMNS = [c for c in _FILES.c if c.name not in ("claim_token", "lease_until", "report")]
"""What the ledger shows: everything but the lease's secret and the full quarantine report."""


@contextmanager
def _exclusive(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction that holds the inventory's write lock from its first statement
    (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so that what it
    reads cannot change before it writes."""
    with sessions() as session:
        connection = session.connection(execution_options={_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_INVENTORY_LOCK_KEY)))
        try:
            yield session
            session.commit()
        except IntegrityError as error:
            session.rollback()
            raise _invalid(error) from error
        except BaseException:
            session.rollback()
            raise


def _not_stored(session: Session, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with no identical stone (every column) in the inventory."""
    if not records:
        return []
    carats = [r["carat"] for r in records]
    existing = session.execute(
        sa.select(*(_DIAMONDS.c[name] for name in COLUMNS)).where(
            _DIAMONDS.c.carat.between(min(carats), max(carats))
        )
    )
    stored = {tuple(row) for row in existing}
    return [r for r in records if tuple(r[name] for name in COLUMNS) not in stored]
