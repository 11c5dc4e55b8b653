"""Partners, their keys and their usage: a partner's plan (requests a minute, stones a month,
scopes), its keys (an id, the SHA-256 of the secret, scopes, expiry, revocation, last use),
and what each key asked of each route per day, with a latency histogram.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("contact", sa.String(320), nullable=False),
        sa.Column("requests_per_minute", sa.Integer(), nullable=False),
        sa.Column("stones_per_month", sa.BigInteger(), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_partners")),
    )
    op.create_table(
        "usage",
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("stones", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("latency", JSON, nullable=False),
        sa.PrimaryKeyConstraint("partner", "key_id", "day", "route", name=op.f("pk_usage")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("replaced_by", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner"], ["partners.name"], name=op.f("fk_api_keys_partner_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_partner"), "api_keys", ["partner"], unique=False)
    op.create_index(op.f("ix_api_keys_changed_at"), "api_keys", ["changed_at"], unique=False)
    op.create_index(op.f("ix_partners_changed_at"), "partners", ["changed_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_partners_changed_at"), table_name="partners")
    op.drop_index(op.f("ix_api_keys_changed_at"), table_name="api_keys")
    op.drop_index(op.f("ix_api_keys_partner"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("usage")
    op.drop_table("partners")
