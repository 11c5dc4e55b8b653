"""The inventory, the prediction log and the ingested files.

A migration is a frozen record of a schema change, so the grades and bounds of the diamond record
are written out here as they were at this revision, not imported from training.record.

Revision ID: 0001
Revises:
Create Date: 2024-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "diamonds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("carat", sa.Float, nullable=False),
        sa.Column("cut", sa.String(9), nullable=False),
        sa.Column("color", sa.String(1), nullable=False),
        sa.Column("clarity", sa.String(4), nullable=False),
        sa.Column("depth", sa.Float, nullable=False),
        sa.Column("table", sa.Float, nullable=False),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("z", sa.Float, nullable=False),
        sa.Column("price", sa.Float, nullable=True),
        sa.Column("source", sa.String(1024), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("carat > 0.0 AND carat <= 30.0", name="ck_diamonds_carat"),
        sa.CheckConstraint(
            "cut IN ('Fair', 'Good', 'Very Good', 'Premium', 'Ideal')", name="ck_diamonds_cut"
        ),
        sa.CheckConstraint(
            "color IN ('J', 'I', 'H', 'G', 'F', 'E', 'D')", name="ck_diamonds_color"
        ),
        sa.CheckConstraint(
            "clarity IN ('I1', 'SI2', 'SI1', 'VS2', 'VS1', 'VVS2', 'VVS1', 'IF')",
            name="ck_diamonds_clarity",
        ),
        sa.CheckConstraint("depth > 0.0 AND depth <= 100.0", name="ck_diamonds_depth"),
        sa.CheckConstraint('"table" > 0.0 AND "table" <= 100.0', name="ck_diamonds_table"),
        sa.CheckConstraint("x > 0.0 AND x <= 60.0", name="ck_diamonds_x"),
        sa.CheckConstraint("y > 0.0 AND y <= 60.0", name="ck_diamonds_y"),
        sa.CheckConstraint("z > 0.0 AND z <= 40.0", name="ck_diamonds_z"),
        sa.CheckConstraint("price > 0.0 AND price <= 10000000.0", name="ck_diamonds_price"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_diamonds_comparables", "diamonds", ["cut", "color", "clarity", "carat"])

    op.create_table(
        "prediction_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("model_version", sa.String(128), nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("n_stones", sa.Integer, nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("request", JSON, nullable=True),
        sa.Column("response", JSON, nullable=True),
    )
    op.create_index("ix_prediction_log_created_at", "prediction_log", ["created_at"])

    op.create_table(
        "ingested_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.String(255), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("generation", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("rows_read", sa.Integer, nullable=True),
        sa.Column("accepted", sa.Integer, nullable=True),
        sa.Column("rejected", sa.Integer, nullable=True),
        sa.Column("report", JSON, nullable=True),
        sa.Column("run_id", sa.String(128), nullable=True),
        sa.UniqueConstraint("bucket", "name", "generation", name="uq_ingested_files_object"),
    )


def downgrade() -> None:
    op.drop_table("ingested_files")
    op.drop_index("ix_prediction_log_created_at", table_name="prediction_log")
    op.drop_table("prediction_log")
    op.drop_index("ix_diamonds_comparables", table_name="diamonds")
    op.drop_table("diamonds")
