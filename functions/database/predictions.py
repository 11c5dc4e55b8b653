"""The log of pricing requests: the repository the prediction logger writes its batches with."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import orjson
import sqlalchemy as sa

from functions.database.columns import utcnow
from functions.database.engine import json_text
from functions.database.repository import Repository
from functions.database.tables import PREDICTION_LOG

_COLUMNS = (
    "created_at",
    "model_version",
    "latency_ms",
    "caller",
    "partner",
    "key_id",
    "n_stones",
    "status",
    "request",
    "response",
)
_DOCUMENTS = frozenset({"request", "response"})
_FROM_JSON = sa.text(
    f"""
    INSERT INTO prediction_log ({", ".join(_COLUMNS)})
    SELECT created_at, model_version, latency_ms, caller, partner, key_id, n_stones, status,
        coalesce(request, 'null'::jsonb), coalesce(response, 'null'::jsonb)
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        created_at timestamptz, model_version varchar, latency_ms float8, caller varchar,
        partner varchar, key_id varchar, n_stones int, status int, request jsonb, response jsonb)
    """
)


def _insert_json(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows as one JSON array, unpacked by the server. psycopg would otherwise
    adapt every value of every row in Python, several times the writer's CPU. A missing
    document is stored as JSON null, as SQLAlchemy stores None."""
    connection.execute(_FROM_JSON, {"rows": orjson.dumps(rows).decode()})


def _insert_values(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """SQLite: one statement of as many VALUES rows, bound as the columns bind them (documents
    as JSON text). Unpacking a JSON array in SQL cost SQLite several times the CPU per row,
    and executemany steps once per row, handing the interpreter lock back and forth with the
    serving thread."""
    values = tuple(
        json_text(row[name]) if name in _DOCUMENTS else row[name]
        for row in rows
        for name in _COLUMNS
    )
    connection.exec_driver_sql(_values_statement(len(rows)), values)


@cache
def _values_statement(rows: int) -> str:
    row = "(" + ", ".join(["?"] * len(_COLUMNS)) + ")"
    return f"INSERT INTO prediction_log ({', '.join(_COLUMNS)}) VALUES " + ", ".join([row] * rows)


_INSERTS = {"postgresql": _insert_json, "sqlite": _insert_values}


class PredictionLog(Repository):
    """The log of pricing requests. Entries are dicts of PredictionLogEntry's columns (no id);
    a missing created_at means now."""

    _ABSENT = dict.fromkeys(
        ("model_version", "partner", "key_id", "n_stones", "request", "response")
    )
    """The columns an entry may leave out, and what they hold then."""

    def write_many(self, entries: list[dict[str, Any]], rows_per_statement: int = 50) -> None:
        """One transaction, in statements of `rows_per_statement` rows with the interpreter
        handed to other threads between them: the log is written by a thread of the process
        that serves prices, and one long statement would hold a price up for milliseconds.
        Each row's timestamp is checked, made UTC and written as the column's type writes it
        for the database."""
        if not entries:
            return
        now = utcnow()
        with self._sessions.begin() as session:
            connection = session.connection()
            dialect = connection.dialect
            stamp = PREDICTION_LOG.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
            insert = _INSERTS[dialect.name]
            for start in range(0, len(entries), rows_per_statement):
                chunk = entries[start : start + rows_per_statement]
                rows = [
                    {
                        **self._ABSENT,
                        **entry,
                        "created_at": stamp(entry.get("created_at", now)),
                    }
                    for entry in chunk
                ]
                insert(connection, rows)
                time.sleep(0)
