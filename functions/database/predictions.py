"""The log of pricing requests: the repository the prediction logger writes its batches with."""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa

from functions.database.columns import utcnow
from functions.database.repository import Repository
from functions.database.tables import PREDICTION_LOG

_COLUMNS = "created_at, model_version, latency_ms, caller, n_stones, status, request, response"
_FROM_JSON = {
    "postgresql": sa.text(
        f"""
        INSERT INTO prediction_log ({_COLUMNS})
        SELECT created_at, model_version, latency_ms, caller, n_stones, status,
            coalesce(request, 'null'::jsonb), coalesce(response, 'null'::jsonb)
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
            created_at timestamptz, model_version varchar, latency_ms float8, caller varchar,
            n_stones int, status int, request jsonb, response jsonb)
        """
    ),
    "sqlite": sa.text(
        f"""
        INSERT INTO prediction_log ({_COLUMNS})
        SELECT value ->> 'created_at', value ->> 'model_version', value ->> 'latency_ms',
            value ->> 'caller', value ->> 'n_stones', value ->> 'status',
            value -> 'request', value -> 'response'
        FROM json_each(:rows)
        """
    ),
}
"""A statement's rows as one JSON array, unpacked by the database. The driver would otherwise
adapt every value of every row in Python (psycopg: about five times the writer's CPU), and
SQLite would step once per row, handing the interpreter lock back and forth with the serving
thread. A missing document is stored as JSON null, as SQLAlchemy stores None."""


class PredictionLog(Repository):
    """The log of pricing requests. Entries are dicts of PredictionLogEntry's columns (no id);
    a missing created_at means now."""

    _ABSENT = dict.fromkeys(("model_version", "n_stones", "request", "response"))
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
            dialect = session.get_bind().dialect
            stamp = PREDICTION_LOG.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
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
                session.execute(_FROM_JSON[dialect.name], {"rows": orjson.dumps(rows).decode()})
                time.sleep(0)
