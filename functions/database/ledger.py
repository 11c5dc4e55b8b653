"""The ledger of ingested data files: one row per delivered file, held by one delivery at a
time (a claim with a lease), recording how far its ingestion went and what it found."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from functions.database.columns import utcnow
from functions.database.files import Changes, replace_stones, withdraw_stones
from functions.database.inventory import fingerprinted, record_values, write_locked
from functions.database.repository import Repository, as_dict
from functions.database.tables import INGESTED_FILES
from functions.statuses import FileEvent, FileStatus


@dataclass(frozen=True)
class Claim:
    """A delivery's hold on a file: only the holder of `token` may write the file's progress."""

    id: int
    bucket: str
    name: str
    generation: str
    event: FileEvent
    token: str
    attempt: int
    stored: bool
    """An earlier delivery already stored the file's stones (and then failed)."""
    scored: bool
    """An earlier delivery already scored the champion on them."""


class LostClaim(RuntimeError):
    """The delivery no longer holds the file: its lease lapsed and another delivery took over."""


class IngestedFiles(Repository):
    """The ledger of data files taken up for ingestion (see IngestedFile).

    Delivery is at least once: `claim` lets exactly one delivery of a file through at a time,
    for `lease` seconds. A file whose ingestion failed, or whose holder stopped answering (its
    lease lapsed), may be claimed again, and the new holder carries on from where the file got.
    """

    @staticmethod
    def _key(
        bucket: str, name: str, generation: str | int, event: FileEvent
    ) -> list[sa.ColumnElement[bool]]:
        c = INGESTED_FILES.c
        return [
            c.bucket == bucket,
            c.name == name,
            c.generation == str(generation),
            c.event == event,
        ]

    @staticmethod
    def _held(claim: Claim) -> list[sa.ColumnElement[bool]]:
        c = INGESTED_FILES.c
        return [c.id == claim.id, c.claim_token == claim.token, c.status == FileStatus.PROCESSING]

    def claim(
        self,
        bucket: str,
        name: str,
        generation: str | int,
        lease: float,
        event: FileEvent = FileEvent.FINALIZED,
    ) -> Claim | None:
        """Hold the file's event for `lease` seconds; None if another delivery holds it or it is
        done (`get` says which)."""
        now = utcnow()
        hold = {
            "status": FileStatus.PROCESSING,
            "claim_token": secrets.token_hex(16),
            "lease_until": now + timedelta(seconds=lease),
            "finished_at": None,
        }
        try:
            with self._sessions.begin() as session:
                session.execute(
                    sa.insert(INGESTED_FILES).values(
                        bucket=bucket,
                        name=name,
                        generation=str(generation),
                        event=event,
                        received_at=now,
                        attempts=1,
                        **hold,
                    )
                )
        except IntegrityError:
            c = INGESTED_FILES.c
            takeover = (
                sa.update(INGESTED_FILES)
                .where(
                    *self._key(bucket, name, generation, event),
                    sa.or_(
                        c.status == FileStatus.FAILED,
                        sa.and_(c.status == FileStatus.PROCESSING, c.lease_until < now),
                    ),
                )
                .values(**hold, attempts=c.attempts + 1)
                .returning(c.id)
            )
            with self._sessions.begin() as session:
                if session.execute(takeover).first() is None:
                    return None
        row = self.get(bucket, name, generation, event)
        assert row is not None
        return Claim(
            row["id"],
            bucket,
            name,
            str(generation),
            event,
            hold["claim_token"],
            row["attempts"],
            stored=row["stored_at"] is not None,
            scored=row["scored_at"] is not None,
        )

    def update(self, claim: Claim, **fields: Any) -> dict[str, Any]:
        """Record the file's progress while holding it; LostClaim if it is held no more."""
        return self._update(claim, fields)

    def finish(
        self, claim: Claim, status: FileStatus = FileStatus.DONE, **fields: Any
    ) -> dict[str, Any]:
        """Record the outcome and let go of the file. FAILED lets a later delivery retry."""
        return self._update(
            claim, {**fields, "status": status, "finished_at": utcnow(), "lease_until": None}
        )

    _FIELDS = frozenset(c.name for c in INGESTED_FILES.c) - {
        *("id", "bucket", "name", "generation", "received_at", "claim_token", "attempts"),
        *("event", "stored_at", "inserted", "unchanged", "changed", "withdrawn"),
    }
    """What a holder may record; the identity, the claim and the stored counts are set by
    claim() and store() alone."""

    def _update(self, claim: Claim, fields: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - self._FIELDS)
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}")
        if isinstance(fields.get("error"), str):
            fields["error"] = fields["error"][:2000]
        update = (
            sa.update(INGESTED_FILES)
            .where(*self._held(claim))
            .values(**fields)
            .returning(*INGESTED_FILES.c)
        )
        with self._sessions.begin() as session:
            row = session.execute(update).first()
        if row is None:
            raise LostClaim(f"{claim.name}#{claim.generation} is held by another delivery")
        return as_dict(row)

    def renew(self, claim: Claim, lease: float) -> dict[str, Any]:
        """Hold the file `lease` seconds more (a delivery still at work); LostClaim if it is
        held no more."""
        return self._update(claim, {"lease_until": utcnow() + timedelta(seconds=lease)})

    def store(self, claim: Claim, records: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        """Make the file's accepted stones what its object brings to the inventory, replacing
        what an earlier generation brought (functions/database/files.py), and record it, in one
        transaction. Superseded if a newer generation of the file already counts. Returns the
        ledger row (with `inserted`, `unchanged`, `changed`, `withdrawn`)."""
        values = [fingerprinted(record_values(r)) for r in records]
        with self._holding(claim) as session:
            changes = replace_stones(
                session, claim.bucket, claim.name, claim.generation, values, f"ingest:{claim.id}"
            )
            return self._stored(session, claim, changes, fields)

    def withdraw(self, claim: Claim) -> dict[str, Any]:
        """The object was deleted: withdraw the stones it brought, and record it, in one
        transaction (Superseded if a newer generation counts)."""
        with self._holding(claim) as session:
            changes = withdraw_stones(session, claim.bucket, claim.name, claim.generation)
            return self._stored(session, claim, changes, {})

    @contextmanager
    def _holding(self, claim: Claim) -> Iterator[Session]:
        """The inventory's write transaction, while the claim still holds the file."""
        with write_locked(self._sessions) as session:
            held = session.execute(sa.select(INGESTED_FILES.c.id).where(*self._held(claim))).first()
            if held is None:
                raise LostClaim(f"{claim.name}#{claim.generation} is held by another delivery")
            yield session

    @staticmethod
    def _stored(
        session: Session, claim: Claim, changes: Changes, fields: dict[str, Any]
    ) -> dict[str, Any]:
        update = (
            sa.update(INGESTED_FILES)
            .where(INGESTED_FILES.c.id == claim.id)
            .values(**fields, stored_at=utcnow(), **dataclasses.asdict(changes))
            .returning(*INGESTED_FILES.c)
        )
        return as_dict(session.execute(update).one())

    def get(
        self, bucket: str, name: str, generation: str | int, event: FileEvent = FileEvent.FINALIZED
    ) -> dict[str, Any] | None:
        query = sa.select(INGESTED_FILES).where(*self._key(bucket, name, generation, event))
        with self._sessions() as session:
            row = session.execute(query).first()
        return as_dict(row) if row else None

    def list(
        self, limit: int = 50, cursor: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of the ledger, newest first (ids below `cursor`), and the next cursor."""
        query = sa.select(*_LEDGER_COLUMNS).order_by(INGESTED_FILES.c.id.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(INGESTED_FILES.c.id < cursor)
        with self._sessions() as session:
            rows = session.execute(query).all()
        page = [as_dict(row) for row in rows[:limit]]
        return page, page[-1]["id"] if len(rows) > limit else None

    def scores(self, limit: int = 200) -> list[dict[str, Any]]:
        """The latest `limit` files the champion was scored on, oldest first."""
        c = INGESTED_FILES.c
        query = (
            sa.select(
                c.id,
                c.name,
                c.scored_at,
                c.champion_version,
                c.champion_mape,
                c.champion_coverage,
                c.champion_scored,
            )
            .where(c.champion_mape.is_not(None))
            .order_by(c.scored_at.desc(), c.id.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        return [as_dict(row) for row in reversed(rows)]


_LEDGER_COLUMNS = [c for c in INGESTED_FILES.c if c.name not in ("claim_token", "report")]
"""What the ledger shows: everything but the lease's secret and the full quarantine report."""
