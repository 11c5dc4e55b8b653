"""The data files behind the inventory: which stones each file's current generation brings.

A new generation of a file replaces what the previous generation brought: a stone it still
has stays, a stone whose price it corrects is changed in place, a stone it no longer has is
withdrawn, a new one is added. Deleting the file withdraws its stones. A stone identical to one
already in the inventory (every characteristic and the price) is not stored twice: the file is
linked to the stone already there. A stone leaves the inventory once no file brings it, unless
someone added it by hand (source "api"): files never remove those. A file stays the authority
on the stones it brings: a price changed by hand is corrected again by the file's next
generation if that still says otherwise.

Generations only move forward: an event about a generation older than the one the inventory
holds changes nothing. Every function here runs inside the caller's write-locked transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from functions.database.columns import utcnow
from functions.database.tables import DATA_FILES, DIAMONDS, FILE_STONES
from training.record import COLUMNS, FEATURES

HAND = "api"
"""The source of stones added or changed through the API."""
_CHUNK = 500


class Superseded(RuntimeError):
    """The inventory already holds a newer generation of the file."""

    def __init__(self, name: str, generation: str, newer: str) -> None:
        super().__init__(f"{name}#{generation}: generation {newer} is newer and already counts")
        self.newer = newer


@dataclass(frozen=True)
class Changes:
    """What a generation (or a deletion) did to the inventory."""

    inserted: int = 0
    """Stones new to the inventory."""
    unchanged: int = 0
    """Stones the previous generation had, or that were already in the inventory."""
    changed: int = 0
    """Stones of the previous generation whose price this one corrects."""
    withdrawn: int = 0
    """Stones of the previous generation this one no longer has."""


def newer(generation: str, than: str) -> bool:
    """Whether `generation` is newer than `than` (both are numbers: GCS generations and a
    folder's modification times in nanoseconds only grow)."""
    if generation.isdigit() and than.isdigit():
        return int(generation) > int(than)
    return generation > than


def replace_stones(
    session: Session,
    bucket: str,
    name: str,
    generation: str,
    records: list[dict[str, Any]],
    source: str,
) -> Changes:
    """Make the stones the file brings exactly `records` (column values with their
    `fingerprint`); Superseded if a newer generation already counts."""
    file_id = _advance(session, bucket, name, generation)
    linked = _linked(session, file_id)
    still: dict[str, list[int]] = defaultdict(list)
    for stone_id, row in linked.items():
        still[row["fingerprint"]].append(stone_id)
    kept, fresh = 0, []
    for record in records:
        if still.get(record["fingerprint"]):
            still[record["fingerprint"]].pop()
            kept += 1
        else:
            fresh.append(record)
    gone = [stone_id for ids in still.values() for stone_id in ids]
    elsewhere = _identical(session, [r["fingerprint"] for r in fresh], exclude=set(linked))
    shared, new = [], []
    for record in fresh:
        found = elsewhere.get(record["fingerprint"])
        if found:
            shared.append(found.pop())
        else:
            new.append(record)
    owned = _owned(session, gone)
    corrected, new = _correct_prices(session, new, [linked[i] for i in gone if i in owned])
    gone = [i for i in gone if i not in corrected]
    if new:
        now = utcnow()
        insert = sa.insert(DIAMONDS).returning(DIAMONDS.c.id, sort_by_parameter_order=True)
        rows = [{**r, "source": source, "created_at": now, "updated_at": now} for r in new]
        added = session.execute(insert, rows).scalars().all()
    else:
        added = []
    if shared or added:
        links = [{"file_id": file_id, "stone_id": i} for i in (*shared, *added)]
        session.execute(sa.insert(FILE_STONES), links)
    _unlink(session, file_id, gone)
    return Changes(len(added), kept + len(shared), len(corrected), len(gone))


def withdraw_stones(session: Session, bucket: str, name: str, generation: str) -> Changes:
    """The file was deleted: it brings no stone any more; Superseded if a newer generation
    counts (the deletion of an old generation when a new one replaced it)."""
    file_id = _advance(session, bucket, name, generation, deleted=True)
    linked = list(_linked(session, file_id))
    _unlink(session, file_id, linked)
    return Changes(withdrawn=len(linked))


def _advance(
    session: Session, bucket: str, name: str, generation: str, deleted: bool = False
) -> int:
    """The file's id, its generation moved to `generation`. A deletion may name the generation
    the inventory holds (that one was deleted); a new generation must be newer."""
    c = DATA_FILES.c
    row = session.execute(
        sa.select(c.id, c.generation).where(c.bucket == bucket, c.name == name)
    ).first()
    values = {"generation": generation, "withdrawn_at": utcnow() if deleted else None}
    if row is None:
        return session.execute(
            sa.insert(DATA_FILES).values(bucket=bucket, name=name, **values).returning(c.id)
        ).scalar_one()
    current = row.generation
    if newer(current, generation) or (current == generation and not deleted):
        raise Superseded(name, generation, current)
    session.execute(sa.update(DATA_FILES).where(c.id == row.id).values(**values))
    return row.id


def _linked(session: Session, file_id: int) -> dict[int, dict[str, Any]]:
    """The stones the file brings now: id → columns (and fingerprint, source)."""
    query = (
        sa.select(DIAMONDS.c.id, DIAMONDS.c.fingerprint, DIAMONDS.c.source, *_columns())
        .join(FILE_STONES, FILE_STONES.c.stone_id == DIAMONDS.c.id)
        .where(FILE_STONES.c.file_id == file_id)
    )
    return {row.id: dict(row._mapping) for row in session.execute(query)}


def _columns() -> list[sa.Column]:
    return [DIAMONDS.c[name] for name in COLUMNS]


def _identical(
    session: Session, fingerprints: list[str], exclude: set[int]
) -> dict[str, list[int]]:
    """Stones already in the inventory with these fingerprints, not in `exclude`."""
    found: dict[str, list[int]] = defaultdict(list)
    for chunk in _chunks(sorted(set(fingerprints))):
        query = sa.select(DIAMONDS.c.id, DIAMONDS.c.fingerprint).where(
            DIAMONDS.c.fingerprint.in_(chunk)
        )
        for stone_id, print_ in session.execute(query):
            if stone_id not in exclude:
                found[print_].append(stone_id)
    return found


def _owned(session: Session, stone_ids: list[int]) -> set[int]:
    """The stones only one file brings (the one being replaced) and no hand changed."""
    owned: set[int] = set()
    for chunk in _chunks(stone_ids):
        query = (
            sa.select(FILE_STONES.c.stone_id)
            .join(DIAMONDS, DIAMONDS.c.id == FILE_STONES.c.stone_id)
            .where(FILE_STONES.c.stone_id.in_(chunk), DIAMONDS.c.source.is_distinct_from(HAND))
            .group_by(FILE_STONES.c.stone_id)
            .having(sa.func.count() == 1)
        )
        owned.update(session.execute(query).scalars())
    return owned


def _correct_prices(
    session: Session, fresh: list[dict[str, Any]], old: list[dict[str, Any]]
) -> tuple[set[int], list[dict[str, Any]]]:
    """Pair old stones with fresh records of the same characteristics (another price) and
    update their price in place, keeping their ids. Returns the ids corrected and the records
    left over."""
    waiting: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in old:
        waiting[tuple(row[name] for name in FEATURES)].append(row)
    corrected: set[int] = set()
    left = []
    for record in fresh:
        candidates = waiting.get(tuple(record[name] for name in FEATURES))
        if not candidates:
            left.append(record)
            continue
        stone_id = candidates.pop()["id"]
        session.execute(
            sa.update(DIAMONDS)
            .where(DIAMONDS.c.id == stone_id)
            .values(
                price=record["price"],
                fingerprint=record["fingerprint"],
                updated_at=utcnow(),
                revision=DIAMONDS.c.revision + 1,
            )
        )
        corrected.add(stone_id)
    return corrected, left


def _unlink(session: Session, file_id: int, stone_ids: list[int]) -> None:
    """The file no longer brings these stones: those no file brings and no hand added leave."""
    for chunk in _chunks(stone_ids):
        session.execute(
            sa.delete(FILE_STONES).where(
                FILE_STONES.c.file_id == file_id, FILE_STONES.c.stone_id.in_(chunk)
            )
        )
        still_brought = sa.select(FILE_STONES.c.stone_id).where(
            FILE_STONES.c.stone_id == DIAMONDS.c.id
        )
        session.execute(
            sa.delete(DIAMONDS).where(
                DIAMONDS.c.id.in_(chunk),
                DIAMONDS.c.source.is_distinct_from(HAND),
                ~sa.exists(still_brought),
            )
        )


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
