"""The stones pricing priced, one row each, and their histograms over a window: drift counted
by the database, never by reading the log into Python."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from functions.database.bulk import insert_rows
from functions.database.repository import Repository
from functions.database.tables import PREDICTION_LOG, PRICED_STONES
from training.features import GROUPS

Histograms = dict[str, list[int]]


class PricedStones(Repository):
    """Rows of PricedStone's columns (no id)."""

    def write_many(self, rows: list[dict[str, Any]]) -> None:
        """One transaction (functions/database/bulk.py)."""
        if rows:
            with self._sessions.begin() as session:
                insert_rows(session.connection(), PRICED_STONES, rows)

    def histograms(
        self,
        edges: Mapping[str, Sequence[float]],
        grades: Mapping[str, int],
        start: datetime,
        end: datetime,
        partner: str | None = None,
    ) -> Histograms:
        """Counts per bin of each characteristic of the stones priced in [start, end) (by the
        partner, if one is named): a measurement and the price in the bins `edges` cut (bin k
        holds edges[k-1] ≤ v < edges[k]), a grade by its code (`grades` gives how many there
        are)."""
        c = PRICED_STONES.c
        where = [c.created_at >= start, c.created_at < end]
        if partner is not None:
            where.append(c.partner == partner)
        sizes = {name: len(cut) + 1 for name, cut in edges.items()} | dict(grades)
        found = {name: [0] * size for name, size in sizes.items()}
        with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            bins = {
                name: _bin(c[name], edges[name], dialect) if name in edges else c[name]
                for name in sizes
            }
            for name, index, count in _counted(session, bins, where):
                found[name][int(index)] = count
        return found

    def summary(self, start: datetime, end: datetime, partner: str | None = None) -> dict:
        """The stones priced in [start, end): how many, how many were logged with their
        factors (whose columns are all set or all null) and the mean log factor of each
        characteristic over those, how many each model version priced; and the pricing
        requests refused (every logged request is one for pricing), with their stones."""
        c = PRICED_STONES.c
        where = [c.created_at >= start, c.created_at < end]
        log = PREDICTION_LOG.c
        refused = [log.created_at >= start, log.created_at < end, log.status >= 400]
        if partner is not None:
            where.append(c.partner == partner)
            refused.append(log.partner == partner)
        factors = [c[f"factor_{group}"] for group in GROUPS]
        sums = [sa.func.count(factors[0]), *(sa.func.sum(f) for f in factors)]
        with self._sessions() as session:
            versions = session.execute(
                sa.select(c.model_version, sa.func.count(), *sums)
                .where(*where)
                .group_by(c.model_version)
                .order_by(c.model_version)
            ).all()
            requests, stones_refused = session.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(log.n_stones), 0)).where(
                    *refused
                )
            ).one()
        stones = sum(row[1] for row in versions)
        explained = sum(row[2] for row in versions)
        means = {
            group: math.fsum(row[3 + index] or 0.0 for row in versions) / explained
            if explained
            else None
            for index, group in enumerate(GROUPS)
        }
        return {
            "stones": stones,
            "explained_stones": explained,
            "factor_means": means,
            "model_versions": {row[0]: row[1] for row in versions},
            "refused_requests": requests,
            "refused_stones": int(stones_refused),
        }


def _counted(
    session: Session, bins: dict[str, sa.ColumnElement], where: list[sa.ColumnElement[bool]]
) -> Iterator[tuple[str, int, int]]:
    """(characteristic, bin, stones) of every non-empty bin. PostgreSQL counts every
    characteristic in one pass over the window's rows (one grouping set each); SQLite, which has
    no grouping sets, in one GROUP BY each."""
    if session.get_bind().dialect.name == "postgresql":
        labelled = [expression.label(f"bin_{name}") for name, expression in bins.items()]
        query = (
            sa.select(*labelled, sa.func.count())
            .where(*where)
            .group_by(sa.func.grouping_sets(*bins.values()))
        )
        for *indexes, count in session.execute(query):
            for name, index in zip(bins, indexes, strict=True):
                if index is not None:
                    yield name, index, count
        return
    for name, expression in bins.items():
        query = sa.select(expression, sa.func.count()).where(*where).group_by(expression)
        for index, count in session.execute(query):
            yield name, index, count


def _bin(column: sa.ColumnElement, edges: Sequence[float], dialect: str) -> sa.ColumnElement:
    """The bin of a value: how many of the edges it reaches."""
    if dialect == "postgresql":
        return sa.func.width_bucket(
            column, sa.cast(postgresql.array(edges), postgresql.ARRAY(sa.Float))
        )
    whens = [(column < edge, index) for index, edge in enumerate(edges)]
    return sa.case(*whens, else_=len(edges))
