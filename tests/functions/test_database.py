"""The database layer, on SQLite and on PostgreSQL (see tests/database_fixtures.py)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from functions.database import (
    FILE_DONE,
    FILE_FAILED,
    FILE_PROCESSING,
    Base,
    DiamondRow,
    IngestedFiles,
    InvalidRecord,
    Inventory,
    LostClaim,
    PredictionLog,
    PredictionLogEntry,
    make_engine,
    migrate,
)
from training.record import CARAT_PER_MM3, CATEGORIES, COLUMNS
from training.validation import read_records

DEPTH = 61.5


def stone(carat: float = 0.5, **fields: Any) -> dict[str, Any]:
    """A plausible round stone of `carat`: its dimensions agree with its weight and depth."""
    width = (carat / (CARAT_PER_MM3 * DEPTH / 100)) ** (1 / 3)
    record = {
        "carat": carat,
        "cut": "Ideal",
        "color": "G",
        "clarity": "VS1",
        "depth": DEPTH,
        "table": 57.0,
        "x": round(width, 2),
        "y": round(width, 2),
        "z": round(width * DEPTH / 100, 2),
        "price": 1000.0,
    }
    return {**record, **fields}


def run_at_once(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..n-1) on n threads released together; re-raise the first failure."""
    barrier = threading.Barrier(n)

    def start(i: int) -> Any:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(start, range(n)))


def schema_version(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))


def test_migrate_twice_is_a_no_op_and_matches_the_models(database: sa.Engine) -> None:
    Inventory(database).create_many([stone()], "api")
    migrate(database)
    assert schema_version(database) == ["0002"]
    assert Inventory(database).count() == 1
    with database.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_database_at_the_first_revision_is_upgraded_with_its_rows(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from functions.database import MIGRATIONS

    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            sa.text(
                "INSERT INTO ingested_files (bucket, name, generation, status, received_at)"
                " VALUES ('b', 'incoming/old.csv', '1', 'done', :now)"
            ),
            {"now": datetime.now(UTC)},
        )
    migrate(engine)
    assert schema_version(engine) == ["0002"]
    row = IngestedFiles(engine).get("b", "incoming/old.csv", "1")
    assert row["status"] == "done" and row["attempts"] == 0 and row["inserted"] is None
    engine.dispose()


def _migrate_when_all_are_ready(barrier: Any, url: str) -> None:
    barrier.wait()
    migrate(url)


def test_concurrent_migrations_all_succeed(database_url: str) -> None:
    """Several instances starting at once, each migrating the same new database."""
    processes = 3
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        barrier = manager.Barrier(processes, timeout=60)
        list(
            pool.map(_migrate_when_all_are_ready, [barrier] * processes, [database_url] * processes)
        )
    run_at_once(3, lambda _: migrate(database_url))
    engine = make_engine(database_url)
    try:
        assert schema_version(engine) == ["0002"]
    finally:
        engine.dispose()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'folder' / 'diamonds.db'}")
    try:
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") > 0
        assert (tmp_path / "new" / "folder" / "diamonds.db").is_file()
    finally:
        engine.dispose()


def test_the_switch_to_wal_waits_for_a_writer_on_a_new_database(tmp_path: Path) -> None:
    """Another process writes to a database not yet in WAL mode while this one opens it: the
    switch waits for the writer instead of failing with "database is locked" (what SQLite does
    at once to a connection that holds a read lock and wants the write lock)."""
    path = tmp_path / "diamonds.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.5, writer.commit)
    release.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("SELECT x FROM t").scalar() == 1
    finally:
        release.join()
        writer.close()
        engine.dispose()


def test_unsupported_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        make_engine("mysql://localhost/diamonds")
    with pytest.raises(ValueError, match="in-memory SQLite"):
        make_engine("sqlite://")


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


def test_priced_records_csv_round_trips_through_validation(database: sa.Engine) -> None:
    inventory = Inventory(database)
    records = [stone(0.25 + 0.031 * i, price=None if i % 5 == 0 else 300.5 + i) for i in range(30)]
    records.append(stone(1.234567, cut="Very Good", color="D", clarity="IF", price=12345.678))
    inventory.create_many(records, "seed")
    data, count = inventory.priced_records_csv()
    assert data.splitlines()[0].decode() == ",".join(COLUMNS)
    result = read_records(data)
    assert result.rejected.empty
    assert count == len(result.accepted) == 25
    read = [
        {name: row[name] for name in COLUMNS} for row in result.accepted.to_dict(orient="records")
    ]
    assert read == [r for r in records if r["price"] is not None]


def test_prediction_log_write_many(database: sa.Engine) -> None:
    earlier = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    entries = [
        {
            "model_version": "v3",
            "latency_ms": 12.5,
            "caller": "key:3f9a1c",
            "n_stones": 2,
            "status": 200,
            "request": {"stones": [stone(), stone(0.7)]},
            "response": {"prices": [1000.0, 2000.0], "note": "ünïcode"},
            "created_at": earlier,
        },
        {"latency_ms": 0.8, "caller": "anonymous", "status": 422},
    ]
    PredictionLog(database).write_many(entries)
    PredictionLog(database).write_many([])
    table = PredictionLogEntry.__table__
    with database.connect() as connection:
        rows = connection.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    assert len(rows) == 2
    assert rows[0]["created_at"] == earlier
    assert rows[0]["request"] == entries[0]["request"]
    assert rows[0]["response"] == entries[0]["response"]
    assert rows[1]["model_version"] is None and rows[1]["request"] is None
    assert rows[1]["created_at"] > earlier


def test_ingested_files_claim_once(database: sa.Engine) -> None:
    files = IngestedFiles(database)
    claim = files.claim("data", "incoming/a.csv", "17", lease=60)
    assert claim is not None and claim.attempt == 1 and not claim.stored and not claim.scored
    assert files.claim("data", "incoming/a.csv", "17", lease=60) is None
    assert files.claim("data", "incoming/a.csv", 18, lease=60) is not None
    held = files.get("data", "incoming/a.csv", "17")
    assert held is not None and held["status"] == FILE_PROCESSING and held["finished_at"] is None

    report = {"rows_read": 3, "rejected_by_field": {"price": 1}}
    stored = files.store(claim, [stone(0.31), stone(0.32)], rows_read=3, accepted=2, rejected=1)
    assert (stored["inserted"], stored["unchanged"]) == (2, 0) and stored["stored_at"]
    done = files.finish(claim, run_id="r1", report=report)
    assert done["status"] == FILE_DONE and done["report"] == report and done["run_id"] == "r1"
    assert done["finished_at"] >= done["received_at"] and done["lease_until"] is None
    assert files.get("data", "incoming/a.csv", "17") == done
    assert files.claim("data", "incoming/a.csv", "17", lease=60) is None
    with pytest.raises(LostClaim):
        files.update(claim, error="too late")
    assert files.get("data", "incoming/b.csv", "1") is None
    with pytest.raises(ValueError, match="unknown fields"):
        files.update(claim, colour="D")
    with pytest.raises(ValueError, match="unknown fields"):
        files.update(claim, inserted=5)


def test_a_failed_file_can_be_claimed_again_and_carries_on(database: sa.Engine) -> None:
    files = IngestedFiles(database)
    first = files.claim("data", "incoming/a.csv", "1", lease=60)
    files.store(first, [stone(0.41)])
    files.finish(first, FILE_FAILED, error="the runner could not start")
    again = files.claim("data", "incoming/a.csv", "1", lease=60)
    assert again is not None and again.attempt == 2 and again.stored and not again.scored
    row = files.get("data", "incoming/a.csv", "1")
    assert row["status"] == FILE_PROCESSING and row["finished_at"] is None
    assert files.claim("data", "incoming/a.csv", "1", lease=60) is None
    with pytest.raises(LostClaim):
        files.update(first, error="the old holder")


def test_a_lapsed_lease_is_taken_over_and_the_old_holder_writes_nothing(
    database: sa.Engine,
) -> None:
    files, inventory = IngestedFiles(database), Inventory(database)
    first = files.claim("data", "incoming/a.csv", "1", lease=0.05)
    time.sleep(0.1)
    second = files.claim("data", "incoming/a.csv", "1", lease=60)
    assert second is not None and second.attempt == 2
    with pytest.raises(LostClaim):
        files.store(first, [stone(0.51)])
    assert inventory.count() == 0
    files.store(second, [stone(0.51)])
    assert inventory.count() == 1


def test_storing_is_idempotent_on_content(database: sa.Engine) -> None:
    files, inventory = IngestedFiles(database), Inventory(database)
    inventory.create_many([stone(0.61)], source="api")
    claim = files.claim("data", "incoming/a.csv", "1", lease=60)
    row = files.store(claim, [stone(0.61), stone(0.61, price=1100.0), stone(0.62)])
    assert (row["inserted"], row["unchanged"]) == (2, 1)
    assert inventory.count() == 3
    sources = {s["source"] for s in inventory.list({}, 10)[0]}
    assert sources == {"api", f"ingest:{claim.id}"}


def test_the_ledger_lists_newest_first(database: sa.Engine) -> None:
    files = IngestedFiles(database)
    for i in range(5):
        files.claim("data", f"incoming/{i}.csv", "1", lease=60)
    page, cursor = files.list(limit=3)
    assert [r["name"] for r in page] == ["incoming/4.csv", "incoming/3.csv", "incoming/2.csv"]
    assert "claim_token" not in page[0] and "report" not in page[0]
    rest, end = files.list(limit=3, cursor=cursor)
    assert [r["name"] for r in rest] == ["incoming/1.csv", "incoming/0.csv"] and end is None


def test_concurrent_deliveries_claim_once(database: sa.Engine) -> None:
    files = IngestedFiles(database)
    claims = run_at_once(8, lambda _: files.claim("data", "incoming/c.csv", "5", lease=60))
    assert sum(c is not None for c in claims) == 1


def test_concurrent_stores_never_store_a_stone_twice(database: sa.Engine) -> None:
    files, inventory = IngestedFiles(database), Inventory(database)
    claims = [files.claim("data", f"incoming/{i}.csv", "1", lease=60) for i in range(6)]
    same = [stone(0.3 + i / 100) for i in range(20)]
    rows = run_at_once(6, lambda i: files.store(claims[i], same))
    assert sum(r["inserted"] for r in rows) == 20 and inventory.count() == 20


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
