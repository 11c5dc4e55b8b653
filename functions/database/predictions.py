"""The log of pricing requests: the repository the prediction logger writes its batches with."""

from __future__ import annotations

from typing import Any

from functions.database.bulk import insert_rows
from functions.database.columns import utcnow
from functions.database.repository import Repository
from functions.database.tables import PREDICTION_LOG


class PredictionLog(Repository):
    """The log of pricing requests. Entries are dicts of PredictionLogEntry's columns (no id);
    a missing created_at means now."""

    _ABSENT = dict.fromkeys(
        ("model_version", "partner", "key_id", "n_stones", "request", "response")
    )
    """The columns an entry may leave out, and what they hold then."""

    def write_many(self, entries: list[dict[str, Any]]) -> None:
        """One transaction (functions/database/bulk.py); a missing created_at means now."""
        if not entries:
            return
        now = utcnow()
        rows = [
            {**self._ABSENT, **entry, "created_at": entry.get("created_at", now)}
            for entry in entries
        ]
        with self._sessions.begin() as session:
            insert_rows(session.connection(), PREDICTION_LOG, rows)
