"""The stones pricing priced, one row each, and their histograms over a window: drift counted
by the database (one GROUP BY per characteristic), never by reading the log into Python."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from functions.database.repository import Repository
from functions.database.tables import PREDICTION_LOG, PRICED_STONES
from training.features import GROUPS

Histograms = dict[str, list[int]]


class PricedStones(Repository):
    """Rows of PricedStone's columns (no id)."""

    def write_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._sessions.begin() as session:
                session.execute(sa.insert(PRICED_STONES), rows)

    def histograms(
        self,
        edges: Mapping[str, Sequence[float]],
        grades: Mapping[str, int],
        start: datetime,
        end: datetime,
        partner: str | None = None,
        by_day: bool = False,
    ) -> dict[date | None, Histograms]:
        """Counts per bin of each characteristic of the stones priced in [start, end) (by the
        partner, if one is named), per day (UTC) if `by_day`, else under None: a measurement
        and the price in the bins `edges` cut (bin k holds edges[k-1] ≤ v < edges[k]), a grade
        by its code (`grades` gives how many there are)."""
        c = PRICED_STONES.c
        where = [c.created_at >= start, c.created_at < end]
        if partner is not None:
            where.append(c.partner == partner)
        found: dict[date | None, Histograms] = {}
        with self._sessions() as session:
            day = _day(c.created_at, session.get_bind().dialect.name) if by_day else sa.null()
            sizes = {name: len(cut) + 1 for name, cut in edges.items()} | dict(grades)
            for name, size in sizes.items():
                column = c[name]
                bin_ = _bin(column, edges[name]) if name in edges else column
                query = (
                    sa.select(day.label("day"), bin_.label("bin"), sa.func.count())
                    .where(*where)
                    .group_by(sa.literal_column("day"), sa.literal_column("bin"))
                )
                for when, index, count in session.execute(query):
                    key = _as_date(when)
                    counts = found.setdefault(key, {}).setdefault(name, [0] * size)
                    counts[int(index)] = count
        for histograms in found.values():
            for name, size in sizes.items():
                histograms.setdefault(name, [0] * size)
        return found

    def summary(self, start: datetime, end: datetime, partner: str | None = None) -> dict:
        """The stones priced in [start, end): how many, the mean log factor of each
        characteristic (over the stones logged with factors) and how many each model version
        priced; and the pricing requests refused (every logged request is one for pricing),
        with their stones."""
        c = PRICED_STONES.c
        where = [c.created_at >= start, c.created_at < end]
        log = PREDICTION_LOG.c
        refused = [log.created_at >= start, log.created_at < end, log.status >= 400]
        if partner is not None:
            where.append(c.partner == partner)
            refused.append(log.partner == partner)
        means = [sa.func.avg(c[f"factor_{group}"]) for group in GROUPS]
        with self._sessions() as session:
            stones, *averages = session.execute(
                sa.select(sa.func.count(), *means).where(*where)
            ).one()
            versions = session.execute(
                sa.select(c.model_version, sa.func.count())
                .where(*where)
                .group_by(c.model_version)
                .order_by(c.model_version)
            ).all()
            requests, stones_refused = session.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(log.n_stones), 0)).where(
                    *refused
                )
            ).one()
        return {
            "stones": stones,
            "factor_means": {
                group: None if mean is None else float(mean)
                for group, mean in zip(GROUPS, averages, strict=True)
            },
            "model_versions": {version: count for version, count in versions},
            "refused_requests": requests,
            "refused_stones": int(stones_refused),
        }


def _bin(column: sa.ColumnElement, edges: Sequence[float]) -> sa.ColumnElement:
    """The bin of a value: how many of the edges it reaches."""
    if not edges:
        return sa.literal(0)
    whens = [(column < edge, index) for index, edge in enumerate(edges)]
    return sa.case(*whens, else_=len(edges))


def _day(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)
