"""The ledger of ingested files, on SQLite and on PostgreSQL (see tests/database_fixtures.py)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from functions.database import IngestedFiles, Inventory, LostClaim
from functions.statuses import FileStatus
from tests.concurrency import run_at_once
from tests.functions.database.stones import stone


def test_ingested_files_claim_once(database: sa.Engine) -> None:
    files = IngestedFiles(database)
    claim = files.claim("data", "incoming/a.csv", "17", lease=60)
    assert claim is not None and claim.attempt == 1 and not claim.stored and not claim.scored
    assert files.claim("data", "incoming/a.csv", "17", lease=60) is None
    assert files.claim("data", "incoming/a.csv", 18, lease=60) is not None
    held = files.get("data", "incoming/a.csv", "17")
    assert (
        held is not None and held["status"] == FileStatus.PROCESSING and held["finished_at"] is None
    )

    report = {"rows_read": 3, "rejected_by_field": {"price": 1}}
    stored = files.store(claim, [stone(0.31), stone(0.32)], rows_read=3, accepted=2, rejected=1)
    assert (stored["inserted"], stored["unchanged"]) == (2, 0) and stored["stored_at"]
    done = files.finish(claim, run_id="r1", report=report)
    assert done["status"] == FileStatus.DONE and done["report"] == report and done["run_id"] == "r1"
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
    files.finish(first, FileStatus.FAILED, error="the runner could not start")
    again = files.claim("data", "incoming/a.csv", "1", lease=60)
    assert again is not None and again.attempt == 2 and again.stored and not again.scored
    row = files.get("data", "incoming/a.csv", "1")
    assert row["status"] == FileStatus.PROCESSING and row["finished_at"] is None
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


def test_a_delivery_at_work_keeps_its_lease_and_a_dead_one_loses_it(database: sa.Engine) -> None:
    """While a delivery works it renews its lease, so a short lease is safe: only a delivery
    that died lets it lapse, and the next one takes over soon after."""
    from functions.ingestion import renewing

    files = IngestedFiles(database)
    claim = files.claim("data", "incoming/a.csv", "1", lease=0.4)
    with renewing(files, claim, 0.4):
        time.sleep(1.2)
        assert files.claim("data", "incoming/a.csv", "1", lease=60) is None
        held = files.get("data", "incoming/a.csv", "1")
        assert held["lease_until"] > held["received_at"]
    time.sleep(0.6)
    assert files.claim("data", "incoming/a.csv", "1", lease=60) is not None
    with pytest.raises(LostClaim):
        files.renew(claim, 60)
