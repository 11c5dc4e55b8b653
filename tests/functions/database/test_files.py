"""Which stones each data file brings: a new generation replaces the previous one's, a deletion
withdraws them, on SQLite and on PostgreSQL (functions/database/files.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from functions.database import IngestedFiles, Inventory, Superseded
from functions.database.inventory import fingerprinted, record_values
from tests.functions.database.stones import stone
from training.fingerprints import fingerprints
from training.record import COLUMNS, fingerprint


def deliver(files: IngestedFiles, name: str, generation: str, records: list[dict]) -> dict:
    claim = files.claim("data", name, generation, lease=60)
    assert claim is not None
    return files.store(claim, records)


def delete(files: IngestedFiles, name: str, generation: str) -> dict:
    claim = files.claim("data", name, generation, lease=60, event="deleted")
    assert claim is not None
    return files.withdraw(claim)


def changes(row: dict) -> tuple[int, int, int, int]:
    return row["inserted"], row["unchanged"], row["changed"], row["withdrawn"]


def stones(inventory: Inventory) -> list[tuple]:
    return sorted(tuple(s[c] for c in COLUMNS) for s in inventory.list({}, 1000)[0])


def test_a_generation_replaces_the_previous_one(database: sa.Engine) -> None:
    files, inventory = IngestedFiles(database), Inventory(database)
    first = [stone(0.3 + i / 100) for i in range(5)]
    assert changes(deliver(files, "incoming/a.csv", "10", first)) == (5, 0, 0, 0)
    corrected = next(s for s in inventory.list({}, 10)[0] if s["carat"] == 0.3)
    second = [stone(0.3, price=1200.0), *first[1:4], stone(0.9)]
    assert changes(deliver(files, "incoming/a.csv", "11", second)) == (1, 3, 1, 1)
    assert stones(inventory) == sorted(tuple(s[c] for c in COLUMNS) for s in second)
    kept = inventory.get(corrected["id"])
    assert kept["price"] == 1200.0 and kept["revision"] == corrected["revision"] + 1


def test_generations_only_move_forward(database: sa.Engine) -> None:
    """A late event about an older generation changes nothing; the deletion of a generation
    never stored (created and deleted before its event came) still withdraws the file."""
    files, inventory = IngestedFiles(database), Inventory(database)
    deliver(files, "incoming/a.csv", "20", [stone(0.4)])
    with pytest.raises(Superseded, match="generation 20 is newer"):
        deliver(files, "incoming/a.csv", "19", [stone(0.5)])
    with pytest.raises(Superseded):
        delete(files, "incoming/a.csv", "19")
    assert changes(delete(files, "incoming/a.csv", "21")) == (0, 0, 0, 1)
    assert inventory.count() == 0
    with pytest.raises(Superseded, match="generation 21 is newer"):
        deliver(files, "incoming/a.csv", "21", [stone(0.4)])
    assert changes(deliver(files, "incoming/a.csv", "22", [stone(0.4)])) == (1, 0, 0, 0)


def test_a_stone_two_files_bring_leaves_with_the_last_of_them(database: sa.Engine) -> None:
    files, inventory = IngestedFiles(database), Inventory(database)
    shared = stone(0.45)
    assert changes(deliver(files, "incoming/a.csv", "1", [shared, stone(0.46)])) == (2, 0, 0, 0)
    assert changes(deliver(files, "incoming/b.csv", "1", [shared])) == (0, 1, 0, 0)
    assert inventory.count() == 2
    assert changes(delete(files, "incoming/a.csv", "1")) == (0, 0, 0, 2)
    assert stones(inventory) == [tuple(shared[c] for c in COLUMNS)]
    delete(files, "incoming/b.csv", "1")
    assert inventory.count() == 0


def test_files_never_remove_what_a_hand_added(database: sa.Engine) -> None:
    files, inventory = IngestedFiles(database), Inventory(database)
    [by_hand] = inventory.create_many([stone(0.55)], source="api")
    deliver(files, "incoming/a.csv", "1", [stone(0.55)])
    assert inventory.count() == 1
    row = deliver(files, "incoming/a.csv", "2", [stone(0.55, price=1500.0)])
    assert changes(row) == (1, 0, 0, 1), "a hand's stone is not the file's to correct"
    delete(files, "incoming/a.csv", "2")
    assert [s["id"] for s in inventory.list({}, 10)[0]] == [by_hand["id"]]


def test_the_inventory_and_the_registry_fingerprint_a_stone_alike() -> None:
    import pandas as pd

    record = record_values(stone(0.3, table=57, price=326))
    frame = pd.DataFrame([record])
    assert int(fingerprinted(record)["fingerprint"], 16) == fingerprints(frame)[0]
    assert int(fingerprint(record[c] for c in COLUMNS), 16) == fingerprints(frame)[0]
