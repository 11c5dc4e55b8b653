"""The ingestion ledger: a lease on each delivery, its progress, and the champion's error on it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def _columns() -> list[sa.Column]:
    return [
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("stored_at", TIMESTAMP, nullable=True),
        sa.Column("inserted", sa.Integer, nullable=True),
        sa.Column("unchanged", sa.Integer, nullable=True),
        sa.Column("scored_at", TIMESTAMP, nullable=True),
        sa.Column("champion_version", sa.String(128), nullable=True),
        sa.Column("champion_mape", sa.Float, nullable=True),
        sa.Column("champion_scored", sa.Integer, nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("ingested_files") as table:
        for column in _columns():
            table.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("ingested_files") as table:
        for column in reversed(_columns()):
            table.drop_column(column.name)
