"""The inventory of stones, on SQLite and on PostgreSQL (see tests/database_fixtures.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from functions.database import DiamondRow, InvalidRecord, Inventory
from tests.concurrency import run_at_once
from tests.functions.database.stones import stone
from training.fingerprints import fingerprints
from training.record import CATEGORIES, COLUMNS
from training.snapshots import signature
from training.validation import read_records


def test_crud(database: sa.Engine) -> None:
    inventory = Inventory(database)
    before = datetime.now(UTC) - timedelta(seconds=1)
    first, second = inventory.create_many([stone(0.5), stone(0.7, price=None)], "seed")
    assert first["id"] != second["id"]
    assert {k: first[k] for k in COLUMNS} == stone(0.5)
    assert second["price"] is None and second["source"] == "seed"
    created = datetime.fromisoformat(first["created_at"])
    assert created.tzinfo is not None and created.utcoffset() == timedelta(0)
    assert before < created <= datetime.now(UTC)
    assert first["updated_at"] == first["created_at"]
    assert inventory.get(first["id"]) == first

    patched = inventory.patch(second["id"], {"price": 2500.0})
    assert patched is not None and patched["price"] == 2500.0 and patched["carat"] == 0.7
    assert patched["created_at"] == second["created_at"]
    assert patched["updated_at"] > second["updated_at"]

    replaced = inventory.replace(first["id"], stone(0.9, cut="Good", price=None))
    assert replaced is not None
    assert {k: replaced[k] for k in COLUMNS} == stone(0.9, cut="Good", price=None)
    assert replaced["source"] == "seed" and replaced["id"] == first["id"]
    assert inventory.get(first["id"]) == replaced

    assert inventory.delete(first["id"]) is True
    assert inventory.get(first["id"]) is None
    assert inventory.delete(first["id"]) is False
    assert inventory.patch(first["id"], {"price": 1.0}) is None
    assert inventory.replace(first["id"], stone()) is None
    assert inventory.count() == 1


def test_create_many_is_all_or_nothing(database: sa.Engine) -> None:
    inventory = Inventory(database)
    with pytest.raises(InvalidRecord) as refused:
        inventory.create_many([stone(0.5), stone(0.6, cut="Perfect")], "api")
    assert refused.value.field == "cut"
    assert inventory.count() == 0
    assert inventory.create_many([], "api") == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"colour": "D"}, "colour"),
        ({"x": float("nan")}, "x"),
        ({"price": float("inf")}, "price"),
        ({"carat": -1.0}, "carat"),
        ({"table": 0.0}, "table"),
        ({"clarity": "FL"}, "clarity"),
    ],
)
def test_invalid_records_are_refused_with_the_field(
    database: sa.Engine, changes: dict[str, Any], field: str
) -> None:
    inventory = Inventory(database)
    with pytest.raises(InvalidRecord) as refused:
        inventory.create_many([{**stone(), **changes}], "api")
    assert refused.value.field == field
    (created,) = inventory.create_many([stone()], "api")
    with pytest.raises(InvalidRecord) as refused:
        inventory.patch(created["id"], changes)
    assert refused.value.field == field
    assert inventory.get(created["id"]) == created


def test_missing_fields_are_refused(database: sa.Engine) -> None:
    record = stone()
    del record["z"]
    with pytest.raises(InvalidRecord, match="missing fields: z"):
        Inventory(database).create_many([record], "api")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cut", "Perfect"),
        ("color", "Z"),
        ("clarity", "FL"),
        ("carat", -0.5),
        ("carat", 0.0),
        ("depth", 0.0),
        ("table", -57.0),
        ("x", 0.0),
        ("y", -1.0),
        ("z", 0.0),
        ("price", -1.0),
        ("price", 0.0),
        ("z", 1e9),
    ],
)
def test_check_constraints_hold_in_the_database(
    database: sa.Engine, field: str, value: Any
) -> None:
    """Written without the repository, as another program might: the database itself refuses."""
    row = {**stone(), field: value, "created_at": datetime.now(UTC)}
    row["updated_at"] = row["created_at"]
    with pytest.raises(sa.exc.IntegrityError), database.begin() as connection:
        connection.execute(sa.insert(DiamondRow.__table__).values(row))


def test_every_grade_of_the_schema_is_accepted(database: sa.Engine) -> None:
    records = [
        stone(0.3 + 0.01 * i, **{name: value})
        for name, values in CATEGORIES.items()
        for i, value in enumerate(values)
    ]
    assert len(Inventory(database).create_many(records, "api")) == len(records)


def walk(inventory: Inventory, filters: dict[str, Any], limit: int) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        page, cursor = inventory.list(filters, limit, cursor)
        assert len(page) <= limit
        ids += [row["id"] for row in page]
        if cursor is None:
            return ids
        assert page and cursor == page[-1]["id"]


def test_filters_and_pagination(database: sa.Engine) -> None:
    inventory = Inventory(database)
    records = [
        stone(
            0.2 + 0.05 * i,
            cut=("Ideal", "Premium", "Good")[i % 3],
            color=("D", "G", "J", "E")[i % 4],
            clarity=("IF", "SI1")[i % 2],
            price=None if i % 7 == 0 else 500.0 + 100 * i,
        )
        for i in range(41)
    ]
    created = inventory.create_many(records, "seed")
    cases: list[dict[str, Any]] = [
        {},
        {"cut": "Ideal"},
        {"cut": ["Ideal", "Good"], "color": "G"},
        {"clarity": ["IF"], "carat_min": 0.5, "carat_max": 1.5},
        {"price_min": 1000.0, "price_max": 3000.0, "cut": None},
        {"color": []},
    ]
    ranges = {"carat_min": ("carat", 1), "carat_max": ("carat", -1)}
    ranges |= {"price_min": ("price", 1), "price_max": ("price", -1)}

    def matches(row: dict[str, Any], filters: dict[str, Any]) -> bool:
        for key, value in filters.items():
            if value is None:
                continue
            if key in CATEGORIES:
                if row[key] not in ([value] if isinstance(value, str) else value):
                    return False
            else:
                name, sign = ranges[key]
                if row[name] is None or sign * (row[name] - value) < 0:
                    return False
        return True

    for filters in cases:
        expected = [row["id"] for row in created if matches(row, filters)]
        assert inventory.count(filters) == len(expected), filters
        for limit in (1, 4, 7, 100):
            assert walk(inventory, filters, limit) == expected, (filters, limit)
    page, cursor = inventory.list({}, 5, None)
    assert [row for row in page] == created[:5] and cursor == created[4]["id"]
    with pytest.raises(ValueError, match="unknown filter"):
        inventory.list({"shape": "round"}, 10, None)
    with pytest.raises(ValueError, match="limit"):
        inventory.list({}, 0, None)


def test_comparables_nearest_carat_first(database: sa.Engine) -> None:
    inventory = Inventory(database)
    group = {"cut": "Premium", "color": "F", "clarity": "VS2"}
    inventory.create_many(
        [stone(c, **group) for c in (0.3, 1.5, 0.9, 0.7, 1.1, 1.0)]
        + [stone(1.02, **group, price=None), stone(1.0, **{**group, "color": "E"})]
        + [stone(1.01, **{**group, "cut": "Ideal"})],
        "seed",
    )
    nearest = inventory.comparables("Premium", "F", "VS2", 1.0, 4)
    assert [row["carat"] for row in nearest] == [1.0, 0.9, 1.1, 0.7]
    assert all(row["price"] is not None for row in nearest)
    everything = inventory.comparables("Premium", "F", "VS2", 0.95, 50)
    assert [row["carat"] for row in everything] == [0.9, 1.0, 1.1, 0.7, 1.5, 0.3]
    assert inventory.comparables("Fair", "D", "IF", 1.0, 5) == []
    assert inventory.comparables("Premium", "F", "VS2", 1.0, 0) == []


def snapshot_parts(inventory: Inventory, ids_per_part: int) -> list[tuple[str, int, bytes]]:
    """Each part's signature, stones and CSV bytes (asked for while the parts are read)."""
    return [(p.signature, p.rows, p.content()) for p in inventory.priced_parts(ids_per_part)]


def test_priced_parts_round_trip_through_validation(database: sa.Engine) -> None:
    inventory = Inventory(database)
    records = [stone(0.25 + 0.031 * i, price=None if i % 5 == 0 else 300.5 + i) for i in range(30)]
    records.append(stone(1.234567, cut="Very Good", color="D", clarity="IF", price=12345.678))
    created = inventory.create_many(records, "seed")
    parts = snapshot_parts(inventory, 10)
    assert len(parts) == 4
    read = []
    for name, count, data in parts:
        assert data.splitlines()[0].decode() == ",".join(COLUMNS)
        result = read_records(data)
        assert result.rejected.empty and count == len(result.accepted)
        stones = fingerprints(result.accepted).tolist()
        assert name == signature(f"{stone:016x}" for stone in stones)
        read += [
            {name: row[name] for name in COLUMNS} for row in result.accepted.to_dict("records")
        ]
    assert read == [r for r in records if r["price"] is not None]

    edited = next(row for row in created if row["id"] // 10 == created[-1]["id"] // 10)
    inventory.patch(edited["id"], {"price": 999.0})
    again = snapshot_parts(inventory, 10)
    assert [old == new for old, new in zip(parts, again, strict=True)] == [True] * 3 + [False]


def test_a_patch_can_be_refused_on_the_whole_stone(database: sa.Engine) -> None:
    inventory = Inventory(database)
    (created,) = inventory.create_many([stone(0.5)], source="api")

    def refuse_heavy(record: dict) -> None:
        if record["carat"] > 0.6:
            raise InvalidRecord("too heavy for its size", "carat")

    with pytest.raises(InvalidRecord):
        inventory.patch(created["id"], {"carat": 0.7}, check=refuse_heavy)
    assert inventory.get(created["id"])["carat"] == 0.5
    assert inventory.patch(created["id"], {"price": 7.0}, check=refuse_heavy)["price"] == 7.0
    assert inventory.patch(999, {"price": 7.0}, check=refuse_heavy) is None


def test_concurrent_writers(database: sa.Engine) -> None:
    """16 writers at once, each creating 25 stones and patching every one it created."""
    threads, per_thread = 16, 25
    inventory = Inventory(database)

    def work(t: int) -> dict[int, float]:
        prices = {}
        for i in range(per_thread):
            (created,) = inventory.create_many([stone(0.3 + 0.001 * i, price=None)], "api")
            prices[created["id"]] = 1000.0 * (t + 1) + i
            inventory.patch(created["id"], {"price": prices[created["id"]]})
        return prices

    expected = {k: v for prices in run_at_once(threads, work) for k, v in prices.items()}
    rows, _ = inventory.list({}, 1000, None)
    assert len(expected) == len(rows) == inventory.count() == threads * per_thread
    assert sum(expected[row["id"]] == row["price"] for row in rows) == threads * per_thread
