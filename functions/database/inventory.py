"""The stones in stock: records in, plain dicts out; a record the database refuses is an
InvalidRecord naming the field."""

from __future__ import annotations

import csv
import io
import math
import operator
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from itertools import chain, groupby
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from functions.database.columns import utcnow
from functions.database.engine import WRITE_LOCKED, lock
from functions.database.repository import Repository, as_dict
from functions.database.tables import DIAMONDS
from training.record import CATEGORIES, COLUMNS, FEATURES, fingerprint

if TYPE_CHECKING:
    from training.snapshots import Part

_INVENTORY_LOCK_KEY = 0x64696E76  # "dinv": serialises bulk ingestion into the inventory


class RevisionMismatch(RuntimeError):
    """A conditional change named a revision the stone no longer has (someone changed it)."""

    def __init__(self, id: int, revision: int) -> None:
        super().__init__(f"diamond {id} is at revision {revision}")
        self.revision = revision


class InvalidRecord(ValueError):
    """A record the inventory refuses; `field` names the offending field when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


_VIOLATED_FIELD = re.compile(r'ck_diamonds_(\w+)|diamonds\.(\w+)|column "(\w+)"')


def invalid_record(error: IntegrityError) -> InvalidRecord:
    message = str(error.orig).splitlines()[0]
    found = _VIOLATED_FIELD.search(message)
    field = next((g for g in found.groups() if g), None) if found else None
    return InvalidRecord(f"refused by the database: {message}", field)


def record_values(record: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The column values of a record: every feature and an optional price, or (`partial`) some."""
    unknown = sorted(set(record) - set(COLUMNS))
    if unknown:
        raise InvalidRecord(f"unknown fields: {', '.join(unknown)}", unknown[0])
    missing = [] if partial else [name for name in FEATURES if name not in record]
    if missing:
        raise InvalidRecord(f"missing fields: {', '.join(missing)}", missing[0])
    values = dict(record) if partial else {"price": None, **record}
    for name, value in values.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[name] = value = float(value)
            if not math.isfinite(value):
                raise InvalidRecord(f"{name} must be a finite number, got {value}", name)
    return values


def fingerprinted(values: Mapping[str, Any]) -> dict[str, Any]:
    """A whole record's column values with their fingerprint (training.record.fingerprint)."""
    return {**values, "fingerprint": fingerprint(values[name] for name in COLUMNS)}


@contextmanager
def write_locked(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction that holds the inventory's write lock from its first statement
    (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so that what it
    reads cannot change before it writes."""
    with sessions() as session:
        lock(session.connection(execution_options=WRITE_LOCKED), _INVENTORY_LOCK_KEY)
        try:
            yield session
            session.commit()
        except IntegrityError as error:
            session.rollback()
            raise invalid_record(error) from error
        except BaseException:
            session.rollback()
            raise


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
            conditions.append(DIAMONDS.c[key].in_(values))
        elif key in _RANGE_FILTERS:
            name, compare = _RANGE_FILTERS[key]
            conditions.append(compare(DIAMONDS.c[name], value))
        else:
            raise ValueError(f"unknown filter: {key}")
    return conditions


_SHOWN = [c for c in DIAMONDS.c if c.name != "fingerprint"]
"""What a stone is read as: everything but its fingerprint."""


class Inventory(Repository):
    """The stones in stock. Records are dicts with the FEATURES keys and an optional price."""

    @contextmanager
    def _write(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except IntegrityError as error:
            raise invalid_record(error) from error

    def create_many(self, records: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
        """Insert all records in one transaction (all or none); the created rows, in order."""
        now = utcnow()
        rows = [
            {
                **fingerprinted(record_values(r)),
                "source": source,
                "created_at": now,
                "updated_at": now,
            }
            for r in records
        ]
        if not rows:
            return []
        insert = sa.insert(DIAMONDS).returning(*_SHOWN, sort_by_parameter_order=True)
        with self._write() as session:
            return [as_dict(row) for row in session.execute(insert, rows)]

    def get(self, id: int) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.execute(sa.select(*_SHOWN).where(DIAMONDS.c.id == id)).first()
        return as_dict(row) if row else None

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
            sa.select(*_SHOWN).where(*_conditions(filters)).order_by(DIAMONDS.c.id).limit(limit + 1)
        )
        if cursor is not None:
            query = query.where(DIAMONDS.c.id > cursor)
        with self._sessions() as session:
            rows = session.execute(query).all()
        page = [as_dict(row) for row in rows[:limit]]
        return page, page[-1]["id"] if len(rows) > limit else None

    def count(self, filters: Mapping[str, Any] | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(DIAMONDS).where(*_conditions(filters))
        with self._sessions() as session:
            return session.execute(query).scalar_one()

    def replace(
        self, id: int, record: dict[str, Any], revisions: Collection[int] | None = None
    ) -> dict[str, Any] | None:
        """Overwrite a stone's record (a missing price becomes None); None if no such id.
        With `revisions`, only if the stone is still at one of them (else RevisionMismatch)."""
        values = fingerprinted(record_values(record))
        with write_locked(self._sessions) as session:
            if self._current(session, id, revisions) is None:
                return None
            return self._write_values(session, id, values)

    def patch(
        self,
        id: int,
        changes: dict[str, Any],
        check: Callable[[dict[str, Any]], None] | None = None,
        revisions: Collection[int] | None = None,
    ) -> dict[str, Any] | None:
        """Change some fields of a stone; None if no such id. `check` sees the whole stone as
        the change would leave it and may refuse it by raising: the stone cannot change in
        between (the write lock is held). With `revisions`, as `replace`."""
        values = record_values(changes, partial=True)
        with write_locked(self._sessions) as session:
            row = self._current(session, id, revisions)
            if row is None:
                return None
            stone = {**{name: row[name] for name in COLUMNS}, **values}
            if check is not None:
                check(stone)
            return self._write_values(session, id, fingerprinted(stone))

    def delete(self, id: int, revisions: Collection[int] | None = None) -> bool:
        """Remove a stone; False if no such id. With `revisions`, as `replace`."""
        with write_locked(self._sessions) as session:
            if self._current(session, id, revisions) is None:
                return False
            session.execute(sa.delete(DIAMONDS).where(DIAMONDS.c.id == id))
            return True

    @staticmethod
    def _current(
        session: Session, id: int, revisions: Collection[int] | None
    ) -> dict[str, Any] | None:
        """The stone as stored, if it exists (and, given `revisions`, is at one of them)."""
        row = session.execute(sa.select(DIAMONDS).where(DIAMONDS.c.id == id)).first()
        if row is None:
            return None
        if revisions is not None and row.revision not in revisions:
            raise RevisionMismatch(id, row.revision)
        return dict(row._mapping)

    @staticmethod
    def _write_values(session: Session, id: int, values: dict[str, Any]) -> dict[str, Any]:
        update = (
            sa.update(DIAMONDS)
            .where(DIAMONDS.c.id == id)
            .values(**values, updated_at=utcnow(), revision=DIAMONDS.c.revision + 1)
            .returning(*_SHOWN)
        )
        return as_dict(session.execute(update).one())

    def comparables(
        self, cut: str, color: str, clarity: str, carat: float, n: int = 5
    ) -> list[dict[str, Any]]:
        """Up to `n` priced stones of the same grades, nearest carat first.

        Two range scans of the (cut, color, clarity, carat) index, one each side of `carat`,
        instead of sorting the whole group by distance.
        """
        if n < 1:
            return []
        c = DIAMONDS.c
        same = sa.select(*_SHOWN).where(
            c.cut == cut, c.color == color, c.clarity == clarity, c.price.is_not(None)
        )
        heavier = same.where(c.carat >= carat).order_by(c.carat, c.id).limit(n)
        lighter = same.where(c.carat < carat).order_by(c.carat.desc(), c.id.desc()).limit(n)
        with self._sessions() as session:
            rows = [*session.execute(heavier), *session.execute(lighter)]
        rows.sort(key=lambda row: (abs(row.carat - carat), row.carat, row.id))
        return [as_dict(row) for row in rows[:n]]

    def priced_parts(self, ids_per_part: int) -> Iterator[Part]:
        """The priced stones as the parts of a snapshot (training/snapshots.py), one per range
        of `ids_per_part` ids that holds any, in id order. A part's signature comes from its
        stones' fingerprints alone (read for every stone: two narrow columns); its CSV file
        (header: training.record.COLUMNS) is read only when asked for, in the same consistent
        read of the database (a repeatable-read transaction on PostgreSQL; SQLite's reads in
        one transaction are)."""
        from training.snapshots import Part, signature

        c = DIAMONDS.c
        fingerprints = sa.select(c.id, c.fingerprint).where(c.price.is_not(None)).order_by(c.id)
        with self._sessions() as session:
            postgresql = session.get_bind().dialect.name == "postgresql"
            connection = session.connection(
                execution_options={"isolation_level": "REPEATABLE READ"} if postgresql else {}
            )
            rows = _driver_rows(connection, fingerprints)
            for number, part in groupby(rows, key=lambda row: row[0] // ids_per_part):
                stones = [stone for _, stone in part]
                first = number * ids_per_part
                content = partial(_priced_csv, connection, first, first + ids_per_part)
                yield Part(signature(stones), len(stones), content)


def _driver_rows(connection: sa.Connection, query: sa.Select) -> Iterator[tuple]:
    """The rows of a query without parameters, through the driver's own cursor, in batches:
    SQLAlchemy's rows would double the cost of reading every stone of a large inventory."""
    cursor = connection.connection.cursor()
    cursor.execute(str(query.compile(dialect=connection.dialect)))
    return chain.from_iterable(iter(lambda: cursor.fetchmany(5000), []))


def _priced_csv(connection: sa.Connection, first: int, end: int) -> bytes:
    """The priced stones with ids in [first, end) as a training CSV file."""
    c = DIAMONDS.c
    query = (
        sa.select(*(c[name] for name in COLUMNS))
        .where(c.price.is_not(None), c.id >= first, c.id < end)
        .order_by(c.id)
    )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(connection.execute(query))
    return text.getvalue().encode()
