"""The partners, their keys, and what serving instances read of them (functions/http/keyring.py).

A key's secret is never stored: `issue` and `rotate` hand the key back once, the table keeps
the SHA-256 of its secret."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from functions.database.columns import utcnow
from functions.database.engine import WRITE_LOCKED, lock
from functions.database.repository import Repository, as_dict
from functions.database.tables import API_KEYS, PARTNERS
from functions.http.keys import (
    ADMIN,
    PREFIX,
    Principal,
    StoredKey,
    digest,
    new_key,
    scopes_of,
)

_KEYS_LOCK = 0x6B657973
"""Revocations take it in turn (PostgreSQL), so two at once cannot revoke the last two admin
keys; SQLite's write lock does the same."""
KEY_FIELDS = (
    "id",
    "partner",
    "scopes",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "replaced_by",
)


class PartnerExists(ValueError):
    pass


class NoSuchPartner(LookupError):
    pass


class NoSuchKey(LookupError):
    pass


class LastAdminKey(ValueError):
    pass


class Partners(Repository):
    def add(
        self,
        name: str,
        contact: str,
        requests_per_minute: int,
        stones_per_month: int,
        scopes: list[str],
    ) -> dict[str, Any]:
        now = utcnow()
        row = {
            "name": name,
            "contact": contact,
            "requests_per_minute": requests_per_minute,
            "stones_per_month": stones_per_month,
            "scopes": " ".join(sorted(set(scopes))),
            "created_at": now,
            "changed_at": now,
        }
        try:
            with self._sessions.begin() as session:
                session.execute(sa.insert(PARTNERS).values(**row))
        except IntegrityError:
            raise PartnerExists(name) from None
        return self.get(name)  # type: ignore[return-value]

    def get(self, name: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.execute(sa.select(PARTNERS).where(PARTNERS.c.name == name)).first()
        return _partner(row) if row is not None else None

    def list(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            rows = session.execute(sa.select(PARTNERS).order_by(PARTNERS.c.name)).all()
        return [_partner(row) for row in rows]

    def delete(self, name: str) -> dict[str, Any]:
        """Mark the partner deleted: its keys stop; its name and usage stay."""
        now = utcnow()
        c = PARTNERS.c
        with self._sessions.begin() as session:
            done = session.execute(
                sa.update(PARTNERS)
                .where(c.name == name, c.deleted_at.is_(None))
                .values(deleted_at=now, changed_at=now)
            )
        if not done.rowcount and self.get(name) is None:
            raise NoSuchPartner(name)
        return self.get(name)  # type: ignore[return-value]

    def issue(
        self,
        partner: str,
        scopes: list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A new key for the partner (its plan's scopes, or fewer): the row and the key."""
        found = self.get(partner)
        if found is None or found["deleted_at"] is not None:
            raise NoSuchPartner(partner)
        allowed = set(found["scopes"])
        wanted = set(scopes) if scopes else allowed
        if not wanted <= allowed:
            extra = ", ".join(sorted(wanted - allowed))
            raise ValueError(f"the partner's plan does not allow the scopes {extra}")
        with self._sessions.begin() as session:
            return self._insert_key(session, partner, sorted(wanted), expires_at)

    def _insert_key(
        self, session: Any, partner: str, scopes: list[str], expires_at: datetime | None
    ) -> tuple[dict[str, Any], str]:
        key_id, secret, key = new_key()
        now = utcnow()
        session.execute(
            sa.insert(API_KEYS).values(
                id=key_id,
                partner=partner,
                secret_sha256=digest(secret),
                scopes=" ".join(scopes),
                created_at=now,
                changed_at=now,
                expires_at=expires_at,
            )
        )
        row = session.execute(
            sa.select(*(API_KEYS.c[name] for name in KEY_FIELDS)).where(API_KEYS.c.id == key_id)
        ).one()
        return _key(row), key

    def key(self, key_id: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.execute(
                sa.select(*(API_KEYS.c[name] for name in KEY_FIELDS)).where(API_KEYS.c.id == key_id)
            ).first()
        return _key(row) if row is not None else None

    def keys(self, partner: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(*(API_KEYS.c[name] for name in KEY_FIELDS)).order_by(
            API_KEYS.c.partner, API_KEYS.c.created_at, API_KEYS.c.id
        )
        if partner is not None:
            query = query.where(API_KEYS.c.partner == partner)
        with self._sessions() as session:
            return [_key(row) for row in session.execute(query).all()]

    def rotate(self, key_id: str, grace: timedelta) -> tuple[dict[str, Any], str]:
        """A new key with the old one's scopes and expiry; the old one works for `grace`."""
        c = API_KEYS.c
        now = utcnow()
        with self._sessions.begin() as session:
            session.connection(execution_options=WRITE_LOCKED)
            old = session.execute(
                sa.select(API_KEYS).where(c.id == key_id, c.revoked_at.is_(None)).with_for_update()
            ).first()
            if old is None:
                raise NoSuchKey(key_id)
            row, key = self._insert_key(
                session, old.partner, sorted(scopes_of(old.scopes)), old.expires_at
            )
            session.execute(
                sa.update(API_KEYS)
                .where(c.id == key_id)
                .values(revoked_at=now + grace, replaced_by=row["id"], changed_at=now)
            )
        return row, key

    def revoke(self, key_id: str) -> dict[str, Any]:
        """Revoke the key now; refused for the last admin key still working."""
        c = API_KEYS.c
        now = utcnow()
        with self._sessions.begin() as session:
            lock(session.connection(execution_options=WRITE_LOCKED), _KEYS_LOCK)
            old = session.execute(sa.select(API_KEYS).where(c.id == key_id)).first()
            if old is None:
                raise NoSuchKey(key_id)
            if ADMIN in scopes_of(old.scopes) and self._admin_keys(session, now) <= 1:
                raise LastAdminKey(key_id)
            session.execute(
                sa.update(API_KEYS)
                .where(c.id == key_id, sa.or_(c.revoked_at.is_(None), c.revoked_at > now))
                .values(revoked_at=now, changed_at=now)
            )
        return self.key(key_id)  # type: ignore[return-value]

    def _admin_keys(self, session: Any, now: datetime) -> int:
        c, p = API_KEYS.c, PARTNERS.c
        return session.execute(
            sa.select(sa.func.count())
            .select_from(API_KEYS.join(PARTNERS))
            .where(
                c.scopes.contains(ADMIN),
                sa.or_(c.revoked_at.is_(None), c.revoked_at > now),
                sa.or_(c.expires_at.is_(None), c.expires_at > now),
                p.deleted_at.is_(None),
            )
        ).scalar_one()

    def mark(self) -> Hashable:
        """Changes whenever a key or a partner changes (rows are never deleted)."""
        with self._sessions() as session:
            return tuple(
                session.execute(
                    sa.select(
                        sa.select(sa.func.max(API_KEYS.c.changed_at)).scalar_subquery(),
                        sa.select(sa.func.max(PARTNERS.c.changed_at)).scalar_subquery(),
                    )
                ).one()
            )

    def stored_keys(self) -> dict[str, StoredKey]:
        """Every key of a partner not deleted, as a serving instance checks them."""
        c, p = API_KEYS.c, PARTNERS.c
        query = (
            sa.select(
                c.id,
                c.secret_sha256,
                c.scopes,
                c.expires_at,
                c.revoked_at,
                p.name,
                p.requests_per_minute,
                p.stones_per_month,
            )
            .select_from(API_KEYS.join(PARTNERS))
            .where(p.deleted_at.is_(None))
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        return {
            row.id: StoredKey(
                Principal(
                    row.id,
                    scopes_of(row.scopes),
                    row.name,
                    row.requests_per_minute,
                    row.stones_per_month,
                ),
                row.secret_sha256.encode(),
                row.expires_at.timestamp() if row.expires_at else None,
                row.revoked_at.timestamp() if row.revoked_at else None,
            )
            for row in rows
        }


def _partner(row: sa.Row[Any]) -> dict[str, Any]:
    found = as_dict(row)
    found["scopes"] = sorted(scopes_of(found["scopes"]))
    found.pop("changed_at", None)
    return found


def _key(row: sa.Row[Any]) -> dict[str, Any]:
    found = as_dict(row)
    found["scopes"] = sorted(scopes_of(found["scopes"]))
    found["prefix"] = f"{PREFIX}{found['id']}"
    return found
