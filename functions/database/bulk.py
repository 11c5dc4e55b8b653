"""Many rows of one table inserted in a few statements: the prediction log's writer is a thread
of the process that serves prices, and per-row work in Python (SQLAlchemy's executemany, the
driver adapting every value) would take the interpreter from the prices.

On PostgreSQL the rows go as one JSON array that the server unpacks (`jsonb_to_recordset`); on
SQLite as one statement of as many VALUES rows (unpacking JSON in SQL cost SQLite several times
the CPU per row, and executemany steps once per row, handing the interpreter lock back and
forth with the serving thread)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
import sqlalchemy as sa

from functions.database.columns import UTCDateTime, sqlite_timestamp
from functions.database.engine import json_text

ROWS_PER_STATEMENT = 50
"""The interpreter is handed to other threads between statements: one long statement would
hold a price up for milliseconds."""


def insert_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows`, each holding every column of `table` but its primary key; a JSON
    document may be an orjson fragment, embedded as it is."""
    dialect = connection.dialect
    plan = [(column.name, _binder(column, dialect)) for column in _columns(table)]
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        if dialect.name == "postgresql":
            records = orjson.dumps(
                [
                    {name: row[name] if bind is None else bind(row[name]) for name, bind in plan}
                    for row in chunk
                ]
            )
            connection.execute(_recordset(table), {"rows": records.decode()})
        else:
            values = [
                row[name] if bind is None else bind(row[name])
                for row in chunk
                for name, bind in plan
            ]
            connection.exec_driver_sql(_values_statement(table, dialect, len(chunk)), tuple(values))
        time.sleep(0)


def _columns(table: sa.Table) -> list[sa.Column]:
    return [column for column in table.columns if not column.primary_key]


def _is_document(column: sa.Column) -> bool:
    return isinstance(column.type, sa.JSON)


def _binder(column: sa.Column, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    """How a value is bound: a timestamp as its column binds it (made UTC, and text on SQLite);
    a document as JSON text for SQLite, as it is for PostgreSQL (inside the JSON array of the
    rows); None for numbers and strings, which the drivers take as they are."""
    if _is_document(column):
        return json_text if dialect.name == "sqlite" else None
    if isinstance(column.type, UTCDateTime):
        if dialect.name == "sqlite":
            return sqlite_timestamp
        return column.type.dialect_impl(dialect).bind_processor(dialect)
    return None


@cache
def _values_statement(table: sa.Table, dialect: sa.Dialect, rows: int) -> str:
    quote = dialect.identifier_preparer.quote
    names = [quote(column.name) for column in _columns(table)]
    row = "(" + ", ".join(["?"] * len(names)) + ")"
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES " + ", ".join([row] * rows)


@cache
def _recordset(table: sa.Table) -> sa.TextClause:
    """A missing document is stored as JSON null, as SQLAlchemy stores None."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    quote = dialect.identifier_preparer.quote
    columns = _columns(table)
    names = ", ".join(quote(column.name) for column in columns)
    selected = ", ".join(
        f"coalesce({quote(c.name)}, 'null'::jsonb)" if _is_document(c) else quote(c.name)
        for c in columns
    )
    record = ", ".join(f"{quote(c.name)} {c.type.compile(dialect=dialect)}" for c in columns)
    return sa.text(
        f"INSERT INTO {table.name} ({names}) SELECT {selected} "
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({record})"
    )
