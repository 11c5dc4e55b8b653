"""The partner and the key behind each logged pricing request, so that usage and drift can be
read per partner.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("prediction_log") as table:
        table.add_column(sa.Column("partner", sa.String(64), nullable=True))
        table.add_column(sa.Column("key_id", sa.String(64), nullable=True))
    op.create_index(
        "ix_prediction_log_partner_created_at", "prediction_log", ["partner", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_prediction_log_partner_created_at", table_name="prediction_log")
    with op.batch_alter_table("prediction_log") as table:
        table.drop_column("key_id")
        table.drop_column("partner")
