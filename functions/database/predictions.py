"""The log of pricing requests: the repository the prediction logger writes its batches with."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from functions.database.columns import utcnow
from functions.database.repository import Repository
from functions.database.tables import PREDICTION_LOG


class PredictionLog(Repository):
    """The log of pricing requests. Entries are dicts of PredictionLogEntry's columns (no id);
    a missing created_at means now."""

    _OPTIONAL = ("model_version", "n_stones", "request", "response")

    def write_many(self, entries: list[dict[str, Any]], rows_per_statement: int = 50) -> None:
        """One transaction, in statements of `rows_per_statement` rows with the interpreter
        handed to other threads between them: the log is written by a thread of the process
        that serves prices, and one long statement would hold a price up for milliseconds."""
        if not entries:
            return
        now = utcnow()
        rows = [{"created_at": now, **dict.fromkeys(self._OPTIONAL), **e} for e in entries]
        with self._sessions.begin() as session:
            for start in range(0, len(rows), rows_per_statement):
                session.execute(sa.insert(PREDICTION_LOG), rows[start : start + rows_per_statement])
                time.sleep(0)
