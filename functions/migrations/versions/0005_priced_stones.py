"""The stones each pricing request priced, one row each, so that drift is an aggregation in
the database; the champion's interval coverage on each ingested file's fresh stones.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
FACTORS = ("carat", "cut", "color", "clarity", "proportions")


def upgrade() -> None:
    op.create_table(
        "priced_stones",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("partner", sa.String(64), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("carat", sa.Float, nullable=False),
        *(sa.Column(name, sa.SmallInteger, nullable=False) for name in ("cut", "color", "clarity")),
        *(sa.Column(name, sa.Float, nullable=False) for name in ("depth", "table", "x", "y", "z")),
        sa.Column("price", sa.Float, nullable=False),
        *(sa.Column(f"factor_{name}", sa.Float, nullable=True) for name in FACTORS),
        sa.PrimaryKeyConstraint("id", name="pk_priced_stones"),
    )
    op.create_index("ix_priced_stones_created_at", "priced_stones", ["created_at"])
    op.create_index(
        "ix_priced_stones_partner_created_at", "priced_stones", ["partner", "created_at"]
    )
    with op.batch_alter_table("ingested_files") as table:
        table.add_column(sa.Column("champion_coverage", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingested_files") as table:
        table.drop_column("champion_coverage")
    op.drop_index("ix_priced_stones_partner_created_at", table_name="priced_stones")
    op.drop_index("ix_priced_stones_created_at", table_name="priced_stones")
    op.drop_table("priced_stones")
