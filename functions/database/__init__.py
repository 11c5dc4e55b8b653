"""The database: the diamond inventory, the prediction log and the ingested data files.

One schema serves SQLite (local) and PostgreSQL (Cloud SQL); the Alembic migrations in
`functions/migrations` create and upgrade it. `migrate()` applies them: a release step
(`diamonds db upgrade`) in the cloud, `diamonds serve` by itself locally; a function only
checks that the schema is the one it was written for (`check_schema`). The repositories
(`Inventory`, `PredictionLog`, `IngestedFiles`) return plain dicts with ISO-8601 timestamps, so
the HTTP layer can serialise their results as they are.

Each write to a row is one INSERT, UPDATE or DELETE (with RETURNING where a row comes back), so it
is atomic on both databases, with no read-modify-write race.

engine       engines for SQLite and PostgreSQL, the migrations, the write locks
columns      column types that read back the same on both databases
tables       the tables
repository   what the repositories share
inventory    the stones in stock (`Inventory`)
files        which stones each data file brings (a new generation replaces the previous one's)
ledger       the ingested data files (`IngestedFiles`)
predictions  the log of pricing requests (`PredictionLog`)
monitoring   the stones pricing priced, counted into histograms (`PricedStones`)
idempotency  first answers to requests sent with an Idempotency-Key (`IdempotentRequests`)
partners     the partners and their keys (`Partners`)
usage        what each partner used, per key, day and route (`Usage`)
"""

from functions.database.engine import (
    MIGRATIONS,
    SchemaNotReady,
    check_schema,
    create_database,
    make_engine,
    migrate,
)
from functions.database.files import Superseded
from functions.database.idempotency import IdempotentRequests
from functions.database.inventory import InvalidRecord, Inventory, RevisionMismatch
from functions.database.ledger import Claim, IngestedFiles, LostClaim
from functions.database.monitoring import PricedStones
from functions.database.partners import (
    LastAdminKey,
    NoSuchKey,
    NoSuchPartner,
    PartnerExists,
    Partners,
)
from functions.database.predictions import PredictionLog
from functions.database.tables import Base, DiamondRow, IngestedFile, PredictionLogEntry
from functions.database.usage import Usage

__all__ = [
    "MIGRATIONS",
    "Base",
    "Claim",
    "DiamondRow",
    "IdempotentRequests",
    "IngestedFile",
    "IngestedFiles",
    "InvalidRecord",
    "Inventory",
    "LastAdminKey",
    "LostClaim",
    "NoSuchKey",
    "NoSuchPartner",
    "PartnerExists",
    "Partners",
    "PredictionLog",
    "PredictionLogEntry",
    "PricedStones",
    "RevisionMismatch",
    "SchemaNotReady",
    "Superseded",
    "Usage",
    "check_schema",
    "create_database",
    "make_engine",
    "migrate",
]
