"""Integrity: each stone's fingerprint and revision, the data files that bring the stones,
deletions in the ledger, and the answers kept for idempotent requests.

Stones that files brought are linked to the newest generation of their file that the ledger
stored, so that the next generation replaces them. The fingerprint is written out as it is at
this revision, not imported.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
COLUMNS = ("carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z", "price")


def _fingerprint(values: Sequence[object]) -> str:
    return hashlib.sha256("|".join(map(str, values)).encode()).hexdigest()[:16]


def upgrade() -> None:
    with op.batch_alter_table("diamonds") as table:
        table.add_column(sa.Column("fingerprint", sa.String(16), nullable=True))
        table.add_column(sa.Column("revision", sa.Integer, nullable=False, server_default="1"))
    diamonds = sa.table(
        "diamonds", sa.column("id"), sa.column("fingerprint"), *map(sa.column, COLUMNS)
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(diamonds.c.id, *(diamonds.c[c] for c in COLUMNS))).all()
    if rows:
        connection.execute(
            sa.update(diamonds).where(diamonds.c.id == sa.bindparam("stone")),
            [
                {
                    "stone": row[0],
                    "fingerprint": _fingerprint(
                        [float(v) if isinstance(v, int) else v for v in row[1:]]
                    ),
                }
                for row in rows
            ],
        )
    with op.batch_alter_table("diamonds") as table:
        table.alter_column("fingerprint", existing_type=sa.String(16), nullable=False)
        table.create_index("ix_diamonds_fingerprint", ["fingerprint"])

    op.create_table(
        "data_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.String(255), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("generation", sa.String(64), nullable=False),
        sa.Column("withdrawn_at", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("bucket", "name", name="uq_data_files_object"),
    )
    op.create_table(
        "file_stones",
        sa.Column(
            "file_id",
            sa.Integer,
            sa.ForeignKey(
                "data_files.id", ondelete="CASCADE", name="fk_file_stones_file_id_data_files"
            ),
            primary_key=True,
        ),
        sa.Column(
            "stone_id",
            sa.Integer,
            sa.ForeignKey("diamonds.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_file_stones_stone_id", "file_stones", ["stone_id"])

    with op.batch_alter_table("ingested_files") as table:
        table.add_column(
            sa.Column("event", sa.String(16), nullable=False, server_default="finalized")
        )
        table.add_column(sa.Column("changed", sa.Integer, nullable=True))
        table.add_column(sa.Column("withdrawn", sa.Integer, nullable=True))
        table.drop_constraint("uq_ingested_files_object", type_="unique")
        table.create_unique_constraint(
            "uq_ingested_files_event", ["bucket", "name", "generation", "event"]
        )
    _link_stored_stones(connection)

    op.create_table(
        "idempotent_requests",
        sa.Column("caller", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("headers", JSON, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_idempotent_requests_created_at", "idempotent_requests", ["created_at"])


def _link_stored_stones(connection: sa.Connection) -> None:
    """Each object's stones, as the ledger stored them, linked to its newest stored generation."""
    ledger = sa.table(
        "ingested_files",
        *map(sa.column, ("id", "bucket", "name", "generation", "stored_at")),
    )
    newest: dict[tuple[str, str], tuple[int, str]] = {}
    deliveries: dict[int, tuple[str, str]] = {}
    for id, bucket, name, generation in connection.execute(
        sa.select(ledger.c.id, ledger.c.bucket, ledger.c.name, ledger.c.generation)
        .where(ledger.c.stored_at.is_not(None))
        .order_by(ledger.c.id)
    ):
        newest[bucket, name] = (id, generation)
        deliveries[id] = (bucket, name)
    files = sa.table("data_files", *map(sa.column, ("id", "bucket", "name", "generation")))
    links = sa.table("file_stones", sa.column("file_id"), sa.column("stone_id"))
    diamonds = sa.table("diamonds", sa.column("id"), sa.column("source"))
    file_ids = {}
    for (bucket, name), (_, generation) in newest.items():
        file_ids[bucket, name] = connection.execute(
            sa.insert(files)
            .values(bucket=bucket, name=name, generation=generation)
            .returning(files.c.id)
        ).scalar_one()
    stones = connection.execute(
        sa.select(diamonds.c.id, diamonds.c.source).where(diamonds.c.source.like("ingest:%"))
    ).all()
    rows = [
        {"file_id": file_ids[deliveries[int(source[7:])]], "stone_id": id}
        for id, source in stones
        if source[7:].isdigit() and int(source[7:]) in deliveries
    ]
    if rows:
        connection.execute(sa.insert(links), rows)


def downgrade() -> None:
    op.drop_index("ix_idempotent_requests_created_at", table_name="idempotent_requests")
    op.drop_table("idempotent_requests")
    op.execute("DELETE FROM ingested_files WHERE event <> 'finalized'")
    with op.batch_alter_table("ingested_files") as table:
        table.drop_constraint("uq_ingested_files_event", type_="unique")
        table.create_unique_constraint("uq_ingested_files_object", ["bucket", "name", "generation"])
        table.drop_column("withdrawn")
        table.drop_column("changed")
        table.drop_column("event")
    op.drop_index("ix_file_stones_stone_id", table_name="file_stones")
    op.drop_table("file_stones")
    op.drop_table("data_files")
    with op.batch_alter_table("diamonds") as table:
        table.drop_index("ix_diamonds_fingerprint")
        table.drop_column("revision")
        table.drop_column("fingerprint")
