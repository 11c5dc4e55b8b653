"""The database: the diamond inventory, the prediction log and the ingested data files.

One schema serves SQLite (local) and PostgreSQL (Cloud SQL); the Alembic migrations in
`functions/migrations` create and upgrade it, `migrate()` applies them. The repositories
(`Inventory`, `PredictionLog`, `IngestedFiles`) return plain dicts with ISO-8601 timestamps, so
the HTTP layer can serialise their results as they are.

Each write to a row is one INSERT, UPDATE or DELETE (with RETURNING where a row comes back), so it
is atomic on both databases, with no read-modify-write race.

engine       engines for SQLite and PostgreSQL, the migrations, the write locks
columns      column types that read back the same on both databases
tables       the three tables
repository   what the repositories share
inventory    the stones in stock (`Inventory`)
ledger       the ingested data files (`IngestedFiles`)
predictions  the log of pricing requests (`PredictionLog`)
"""

from functions.database.engine import MIGRATIONS, create_database, make_engine, migrate
from functions.database.inventory import InvalidRecord, Inventory
from functions.database.ledger import (
    FILE_DONE,
    FILE_FAILED,
    FILE_PROCESSING,
    FILE_REJECTED,
    FILE_SKIPPED,
    Claim,
    IngestedFiles,
    LostClaim,
)
from functions.database.predictions import PredictionLog
from functions.database.tables import Base, DiamondRow, IngestedFile, PredictionLogEntry

__all__ = [
    "FILE_DONE",
    "FILE_FAILED",
    "FILE_PROCESSING",
    "FILE_REJECTED",
    "FILE_SKIPPED",
    "MIGRATIONS",
    "Base",
    "Claim",
    "DiamondRow",
    "IngestedFile",
    "IngestedFiles",
    "InvalidRecord",
    "Inventory",
    "LostClaim",
    "PredictionLog",
    "PredictionLogEntry",
    "create_database",
    "make_engine",
    "migrate",
]
