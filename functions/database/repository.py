"""What the repositories share: their sessions, and rows handed out as plain data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


class Repository:
    """Reads and writes one part of the database, on an engine or a given sessionmaker."""

    def __init__(self, bind: Engine | sessionmaker[Session]) -> None:
        self._sessions = sessionmaker(bind) if isinstance(bind, Engine) else bind


def as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    """A row as plain data: str keys (not SQLAlchemy's quoted names), ISO-8601 timestamps."""
    return {
        str(key): value.isoformat() if isinstance(value, datetime) else value
        for key, value in row._mapping.items()
    }
