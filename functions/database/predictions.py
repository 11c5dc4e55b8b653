"""The log of pricing requests: the repository the prediction logger writes its batches with."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from functions.database.columns import utcnow
from functions.database.repository import Repository
from functions.database.tables import PREDICTION_LOG


class PredictionLog(Repository):
    """The log of pricing requests. Entries are dicts of PredictionLogEntry's columns (no id);
    a missing created_at means now."""

    _OPTIONAL = ("model_version", "n_stones", "request", "response")

    def write_many(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        now = utcnow()
        rows = [{"created_at": now, **dict.fromkeys(self._OPTIONAL), **e} for e in entries]
        with self._sessions.begin() as session:
            session.execute(sa.insert(PREDICTION_LOG), rows)
