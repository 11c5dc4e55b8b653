"""First answers to POST requests sent with an Idempotency-Key (functions/http/idempotency.py),
kept a day per caller and key."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from functions.database.columns import utcnow
from functions.database.repository import Repository
from functions.database.tables import IDEMPOTENT_REQUESTS
from functions.http.idempotency import BUSY, KEPT_HOURS, OTHER, Kept

FIRST = "first"


class IdempotentRequests(Repository):
    """The `Answers` of functions.http.idempotency, in the database: the first request takes
    the key by inserting its row, so that of two at once exactly one is served."""

    def begin(self, caller: str, key: str, method: str, path: str, digest: str) -> Kept | str:
        c = IDEMPOTENT_REQUESTS.c
        mine = [c.caller == caller, c.key == key]
        now = utcnow()
        with self._sessions.begin() as session:
            session.execute(
                sa.delete(IDEMPOTENT_REQUESTS).where(
                    c.created_at < now - timedelta(hours=KEPT_HOURS)
                )
            )
        row = {"caller": caller, "key": key, "method": method, "path": path}
        try:
            with self._sessions.begin() as session:
                session.execute(
                    sa.insert(IDEMPOTENT_REQUESTS).values(
                        **row, request_sha256=digest, created_at=now
                    )
                )
            return FIRST
        except IntegrityError:
            pass
        with self._sessions() as session:
            found = session.execute(sa.select(IDEMPOTENT_REQUESTS).where(*mine)).first()
        if found is None:  # it expired or its request failed meanwhile: take it now
            return self.begin(caller, key, method, path, digest)
        if found.request_sha256 != digest:
            return OTHER
        if found.status is None:
            return BUSY
        return Kept(found.status, dict(found.headers or {}), found.body or b"")

    def keep(self, caller: str, key: str, answer: Kept) -> None:
        c = IDEMPOTENT_REQUESTS.c
        with self._sessions.begin() as session:
            session.execute(
                sa.update(IDEMPOTENT_REQUESTS)
                .where(c.caller == caller, c.key == key)
                .values(status=answer.status, headers=answer.headers, body=answer.body)
            )

    def forget(self, caller: str, key: str) -> None:
        c = IDEMPOTENT_REQUESTS.c
        with self._sessions.begin() as session:
            session.execute(sa.delete(IDEMPOTENT_REQUESTS).where(c.caller == caller, c.key == key))
