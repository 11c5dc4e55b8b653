"""What each partner used, per key, day and route: added to by the instances' meters
(functions/http/metering.py), read for the usage endpoint, the invoice and the quotas."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from functions.database.engine import WRITE_LOCKED
from functions.database.repository import Repository
from functions.database.tables import API_KEYS, USAGE
from functions.http.metering import BUCKETS_MS, Slot, Tally, percentile

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
COUNTS = ("requests", "stones", "refused", "errors")


class Usage(Repository):
    def add(self, tallies: dict[Slot, Tally]) -> None:
        """Add the tallies, in one transaction, and note when each key was last used. Rows are
        created if missing, then locked and added to, so that instances adding to the same row
        at once add up."""
        c = USAGE.c
        with self._sessions.begin() as session:
            connection = session.connection(execution_options=WRITE_LOCKED)
            insert = _INSERTS[connection.dialect.name]
            empty = [0] * (len(BUCKETS_MS) + 1)
            rows = [
                {
                    "partner": partner,
                    "key_id": key_id,
                    "day": date.fromisoformat(day),
                    "route": route,
                    **dict.fromkeys(COUNTS, 0),
                    "latency": empty,
                }
                for partner, key_id, day, route in tallies
            ]
            connection.execute(insert(USAGE).values(rows).on_conflict_do_nothing())
            for (partner, key_id, day, route), tally in sorted(tallies.items()):
                where = (
                    c.partner == partner,
                    c.key_id == key_id,
                    c.day == date.fromisoformat(day),
                    c.route == route,
                )
                latency = connection.execute(
                    sa.select(c.latency).where(*where).with_for_update()
                ).scalar_one()
                connection.execute(
                    sa.update(USAGE)
                    .where(*where)
                    .values(
                        requests=c.requests + tally.requests,
                        stones=c.stones + tally.stones,
                        refused=c.refused + tally.refused,
                        errors=c.errors + tally.errors,
                        latency=[a + b for a, b in zip(latency, tally.latency, strict=True)],
                    )
                )
            last_used: dict[str, float] = {}
            for (_, key_id, _, _), tally in tallies.items():
                last_used[key_id] = max(last_used.get(key_id, 0.0), tally.last_used)
            k = API_KEYS.c
            for key_id, when in sorted(last_used.items()):
                stamp = datetime.fromtimestamp(when, UTC)
                connection.execute(
                    sa.update(API_KEYS)
                    .where(k.id == key_id, sa.or_(k.last_used_at.is_(None), k.last_used_at < stamp))
                    .values(last_used_at=stamp)
                )

    def rows(self, first: date, last: date, partner: str | None = None) -> list[dict[str, Any]]:
        """Per partner, day and route (keys summed), from `first` to `last`, each with its
        latency histogram (`summary` reads it as p50 and p95)."""
        c = USAGE.c
        query = (
            sa.select(c.partner, c.day, c.route, *(c[n] for n in COUNTS), c.latency)
            .where(c.day >= first, c.day <= last)
            .order_by(c.partner, c.day, c.route)
        )
        if partner is not None:
            query = query.where(c.partner == partner)
        merged: dict[tuple, dict[str, Any]] = {}
        with self._sessions() as session:
            for row in session.execute(query):
                slot = (row.partner, row.day.isoformat(), row.route)
                found = merged.setdefault(
                    slot,
                    {
                        "partner": row.partner,
                        "day": slot[1],
                        "route": row.route,
                        **dict.fromkeys(COUNTS, 0),
                        "latency": [0] * (len(BUCKETS_MS) + 1),
                    },
                )
                for name in COUNTS:
                    found[name] += getattr(row, name)
                found["latency"] = [
                    a + b for a, b in zip(found["latency"], row.latency, strict=True)
                ]
        return list(merged.values())

    def month_stones(self, month: str) -> dict[str, int]:
        """Stones priced per partner in the month `YYYY-MM`."""
        first, last = month_days(month)
        c = USAGE.c
        with self._sessions() as session:
            rows = session.execute(
                sa.select(c.partner, sa.func.sum(c.stones))
                .where(c.day >= first, c.day <= last)
                .group_by(c.partner)
            ).all()
        return {partner: int(stones or 0) for partner, stones in rows}


def summary(found: dict[str, Any]) -> dict[str, Any]:
    """Counts with the latency histogram read as its p50 and p95 (ms)."""
    latency = found["latency"]
    return {
        **{k: v for k, v in found.items() if k != "latency"},
        "p50_ms": percentile(latency, 0.5),
        "p95_ms": percentile(latency, 0.95),
    }


def totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of `Usage.rows` added up per partner, summarised."""
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        total = found.setdefault(
            row["partner"],
            {
                "partner": row["partner"],
                **dict.fromkeys(COUNTS, 0),
                "latency": [0] * (len(BUCKETS_MS) + 1),
            },
        )
        for name in COUNTS:
            total[name] += row[name]
        total["latency"] = [a + b for a, b in zip(total["latency"], row["latency"], strict=True)]
    return [summary(total) for total in found.values()]


def month_days(month: str) -> tuple[date, date]:
    """The first and last day of the month `YYYY-MM` (ValueError if it is not one)."""
    first = datetime.strptime(month, "%Y-%m").date()
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)
