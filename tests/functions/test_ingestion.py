"""The retraining pipeline end to end: data files delivered to `ingest` as Eventarc delivers
them (CloudEvents over HTTP to functions-framework), single-flight training behind it, on a
folder and on the GCS emulator, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import pandas as pd
import pytest
import requests

from functions.database import IngestedFiles, make_engine
from functions.ingestion import DELETED
from local.eventarc import Watcher
from training.record import COLUMNS
from training.storage import open_storage

from ..ingestion_fixtures import (
    LEASE_SECONDS,
    champion,
    csv_bytes,
    deliver,
    drop_file,
    file_stones,
    inventory_count,
    inventory_stones,
    ledger,
    ledger_row,
    remove_file,
    stone_of,
    wait_idle,
    wait_run,
)
from ..service_fixtures import KEY, Stack
from ..training.test_spreadsheet import CUTS_SHOWN, HOSTILE, inert_rows

pytestmark = pytest.mark.slow


def slice_of(fresh: pd.DataFrame, stack: Stack, start: int, n: int) -> pd.DataFrame:
    """Stones of `fresh` for one test; each backend's stack gets its own."""
    offset = 20_000 if stack.data_root.startswith("gs://") else 0
    return fresh.iloc[offset + start : offset + start + n]


def test_a_good_file_is_ingested_and_a_new_model_promoted(pipeline: Stack, fresh_stones) -> None:
    wait_idle(pipeline)
    before, count = champion(pipeline), inventory_count(pipeline)
    stones = slice_of(fresh_stones, pipeline, 0, 1500)
    obj = drop_file(pipeline, "incoming/appraisals/2026-11.csv", csv_bytes(stones))

    answer = deliver(pipeline, obj)
    assert answer.status_code == 200, answer.text
    row = ledger_row(pipeline, obj)
    assert row["status"] == "done" and row["attempts"] == 1 and row["error"] is None
    assert (row["rows_read"], row["accepted"], row["rejected"]) == (1500, 1500, 0)
    assert (row["inserted"], row["unchanged"]) == (1500, 0)
    assert row["champion_version"] == before and 1450 < row["champion_scored"] <= 1500
    assert 3 < row["champion_mape"] < 15 and 0.8 < row["champion_coverage"] <= 1
    assert inventory_count(pipeline) == count + 1500

    run = wait_run(pipeline, row["run_id"])
    assert run["status"] == "succeeded", run
    assert run["trigger"] == "ingest" and run["requested_by"].startswith("ingest:")
    assert run["rows"] == count + 1500 and set(run["stages"]) >= {"fit"}
    assert "snapshot" not in run, "where things are stored is for key holders"
    assert run["gate"]["decision"] == "promoted", run["gate"]
    assert champion(pipeline) == run["version"] != before
    job = pipeline.call("GET", f"/v1/runs/{row['run_id']}", key=KEY).json()["job"]
    reaped = time.monotonic() + 20
    while os.path.exists(f"/proc/{job['pid']}"):  # a zombie is still listed there
        assert time.monotonic() < reaped, "the finished training process was not reaped"
        time.sleep(0.2)

    again = deliver(pipeline, obj)
    assert again.status_code == 200 and inventory_count(pipeline) == count + 1500
    assert ledger_row(pipeline, obj)["attempts"] == 1
    data = open_storage(pipeline.data_root)
    report = json.loads(data.read(f"quarantine/appraisals/2026-11-{obj.generation}.report.json"))
    assert report["accepted"] == 1500 and report["source"]["sha256"] == row["sha256"]


def test_a_file_that_makes_the_model_worse_stays_a_candidate(pipeline: Stack, fresh_stones) -> None:
    """Appraisals keyed in wrong (prices ×5 or ÷5): the model trained on them is worse."""
    wait_idle(pipeline)
    before = champion(pipeline)
    stones = slice_of(fresh_stones, pipeline, 1500, 60).copy()
    stones["price"] = stones["price"] * [5.0 if i % 2 else 0.2 for i in range(len(stones))]
    obj = drop_file(pipeline, "incoming/slips.csv", csv_bytes(stones))

    assert deliver(pipeline, obj).status_code == 200
    row = ledger_row(pipeline, obj)
    assert row["inserted"] == 60 and row["champion_mape"] > 50
    run = wait_run(pipeline, row["run_id"])
    assert run["status"] == "succeeded" and run["gate"]["decision"] == "candidate", run
    assert "worse by more than" in run["gate"]["reason"]
    assert champion(pipeline) == before


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "the file is empty"),
        (b"\x00\x01garbage" * 50, "binary"),
        (b"carat,cut\n1,Ideal\n", "required columns missing: color"),
        ("carat,cut\n1,Idéal\n".encode("utf-16"), "binary"),
    ],
)
def test_a_file_that_cannot_be_used_is_quarantined_whole(
    pipeline: Stack, content: bytes, error: str
) -> None:
    before, count, runs = champion(pipeline), inventory_count(pipeline), wait_idle(pipeline)
    obj = drop_file(pipeline, "incoming/broken.csv", content)

    assert deliver(pipeline, obj).status_code == 200
    row = ledger_row(pipeline, obj)
    assert row["status"] == "rejected" and error in row["error"] and row["run_id"] is None
    report = open_storage(pipeline.data_root).read(
        f"quarantine/broken-{obj.generation}.report.json"
    )
    assert json.loads(report)["usable"] is False and error in json.loads(report)["error"]
    assert champion(pipeline) == before and inventory_count(pipeline) == count
    assert wait_idle(pipeline)["runs"] == runs["runs"]


def test_rejected_rows_are_quarantined_with_their_reasons(pipeline: Stack, fresh_stones) -> None:
    wait_idle(pipeline)
    stones = slice_of(fresh_stones, pipeline, 1600, 3).copy()
    bad = stones.iloc[[0, 0]].assign(price=-1.0)
    slip = stones.iloc[[1]].assign(y=58.9)
    content = csv_bytes(pd.concat([stones.iloc[[2]], bad.iloc[[0]], slip]))
    obj = drop_file(pipeline, "incoming/mixed.csv", content + b"1,Superb,E,VS1,61,57,5000,6,6,4\n")

    assert deliver(pipeline, obj).status_code == 200
    row = ledger_row(pipeline, obj)
    assert (row["rows_read"], row["accepted"], row["rejected"]) == (4, 1, 3)
    rejected = open_storage(pipeline.data_root).read(
        f"quarantine/mixed-{obj.generation}.rejected.csv"
    )
    text = rejected.decode()
    assert "price: must be greater than 0" in text and "unknown cut 'Superb'" in text
    assert "describe a stone of about" in text
    wait_idle(pipeline)


def test_hostile_cells_are_quarantined_as_text_and_the_file_kept_as_it_came(
    pipeline: Stack,
) -> None:
    wait_idle(pipeline)
    count = inventory_count(pipeline)
    obj = drop_file(pipeline, "incoming/hostile.csv", HOSTILE)

    assert deliver(pipeline, obj).status_code == 200
    row = ledger_row(pipeline, obj)
    assert (row["rows_read"], row["accepted"], row["rejected"], row["run_id"]) == (9, 0, 9, None)
    data = open_storage(pipeline.data_root)
    rows = inert_rows(data.read(f"quarantine/hostile-{obj.generation}.rejected.csv"))
    assert [row["cut"] for row in rows] == CUTS_SHOWN
    assert [row["'=remark"] for row in rows][-3:] == ["-1", "'=1+2", "'-2+3"]
    assert data.read_generation("incoming/hostile.csv", obj.generation) == HOSTILE
    assert inventory_count(pipeline) == count


def test_the_same_event_five_times_at_once_ingests_once(pipeline: Stack, fresh_stones) -> None:
    wait_idle(pipeline)
    count = inventory_count(pipeline)
    obj = drop_file(
        pipeline, "incoming/twice.csv", csv_bytes(slice_of(fresh_stones, pipeline, 1700, 200))
    )
    answers: list[int] = []
    barrier = threading.Barrier(5)

    def send() -> None:
        barrier.wait()
        answers.append(deliver(pipeline, obj).status_code)

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 200 in answers and set(answers) <= {200, 409}, answers
    row = ledger_row(pipeline, obj)
    assert row["status"] == "done" and row["attempts"] == 1 and row["inserted"] == 200
    assert inventory_count(pipeline) == count + 200
    for _ in range(3):
        assert deliver(pipeline, obj).status_code == 200
    assert inventory_count(pipeline) == count + 200
    wait_idle(pipeline)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"headers": {"ce-type": "google.cloud.storage.object.v1.archived"}}, "event type"),
        ({"body": b'{"bucket": "elsewhere", "name": "incoming/a.csv", "generation": "1"}'}, "DATA"),
        ({"body": b'{"name": "incoming/a.csv", "generation": "1"}'}, "bucket"),
        ({"body": b'{"bucket": "b", "name": "incoming/a.csv", "generation": "x1"}'}, "generation"),
        ({"body": b'"just a string"'}, "not a storage object"),
        ({"body": b"\xff\xfe not json", "headers": {"Content-Type": "text/plain"}}, "JSON"),
    ],
)
def test_foreign_and_malformed_events_are_acknowledged(
    pipeline: Stack, change: dict, why: str
) -> None:
    obj = drop_file(pipeline, "incoming/untouched.csv", b"carat\n1\n")
    rows = len(ledger(pipeline))
    log = pipeline.root / "ingest.log"
    seen = len(log.read_bytes())
    answer = deliver(pipeline, obj, **change)
    assert answer.status_code == 200, answer.text
    assert len(ledger(pipeline)) == rows
    said = log.read_bytes()[seen:].decode().splitlines()
    assert [line for line in said if "ignored" in line and why in line], said


def test_objects_outside_incoming_are_ignored(pipeline: Stack) -> None:
    rows = len(ledger(pipeline))
    for key in ("quarantine/x-1.report.json", "snapshots/x.csv", "incomingx/a.csv"):
        assert deliver(pipeline, drop_file(pipeline, key, b"x")).status_code == 200
    assert len(ledger(pipeline)) == rows


def test_a_body_that_is_no_event_at_all_is_a_client_error(pipeline: Stack) -> None:
    answer = requests.post(
        f"http://127.0.0.1:{pipeline.ports['ingest']}/", data=b"hello", timeout=30
    )
    assert 400 <= answer.status_code < 500 and "Traceback" not in answer.text


def test_a_replaced_generation_is_skipped(pipeline: Stack) -> None:
    old = drop_file(pipeline, "incoming/replaced.csv", b"carat\n1\n")
    time.sleep(0.01)
    new = drop_file(pipeline, "incoming/replaced.csv", b"carat\n2\n")
    assert new.generation != old.generation
    assert deliver(pipeline, old).status_code == 200
    row = ledger_row(pipeline, old)
    assert row["status"] == "skipped" and "no longer exists" in row["error"]


def test_a_corrected_file_replaces_what_its_previous_generation_brought(
    pipeline: Stack, fresh_stones
) -> None:
    """The same name uploaded again with ten prices corrected, two stones withdrawn and one
    added: the inventory then holds exactly what the new generation brings, and deleting the
    file withdraws its stones; a stone added by hand stays."""
    wait_idle(pipeline)
    before = inventory_stones(pipeline)
    assert max(before.values()) == 1
    first = slice_of(fresh_stones, pipeline, 3000, 100).copy()
    v1 = drop_file(pipeline, "incoming/corrected.csv", csv_bytes(first))
    assert deliver(pipeline, v1).status_code == 200
    assert ledger_row(pipeline, v1)["inserted"] == 100
    assert inventory_stones(pipeline) == before + Counter(file_stones(first))

    second = pd.concat([first.iloc[:98], slice_of(fresh_stones, pipeline, 3100, 1)])
    second.iloc[:10, second.columns.get_loc("price")] = (first["price"].iloc[:10] * 1.1).round()
    by_hand = stone_of(second[list(COLUMNS)].iloc[20])
    added = pipeline.call(
        "POST", "/v1/diamonds", key=KEY, json=dict(zip(COLUMNS, by_hand, strict=True))
    )
    assert added.status_code == 201, added.text
    time.sleep(0.01)
    v2 = drop_file(pipeline, "incoming/corrected.csv", csv_bytes(second))
    answer = deliver(pipeline, v2)
    assert answer.status_code == 200, answer.text
    row = ledger_row(pipeline, v2)
    assert (row["inserted"], row["changed"], row["withdrawn"], row["unchanged"]) == (1, 10, 2, 88)
    said = (pipeline.root / "ingest.log").read_text()
    assert "1 new, 10 corrected, 2 withdrawn, 88 already in the inventory" in said
    expected = before + Counter(file_stones(second)) + Counter([by_hand])
    assert inventory_stones(pipeline) == expected

    assert deliver(pipeline, v1, event_type=DELETED).status_code == 200
    assert ledger_row(pipeline, v1, "deleted")["status"] == "skipped"
    remove_file(pipeline, "incoming/corrected.csv")
    assert deliver(pipeline, v2, event_type=DELETED).status_code == 200
    assert "(deleted): deleted: 99 stones withdrawn" in (pipeline.root / "ingest.log").read_text()
    row = ledger_row(pipeline, v2, "deleted")
    assert row["status"] == "done" and row["withdrawn"] == 99 and row["run_id"]
    assert inventory_stones(pipeline) == before + Counter([by_hand])
    assert deliver(pipeline, v2, event_type=DELETED).status_code == 200
    assert inventory_stones(pipeline) == before + Counter([by_hand])
    wait_idle(pipeline)


def test_a_delivery_that_died_is_taken_over_once_its_lease_lapses(
    pipeline: Stack, fresh_stones
) -> None:
    wait_idle(pipeline)
    obj = drop_file(
        pipeline, "incoming/orphan.csv", csv_bytes(slice_of(fresh_stones, pipeline, 1900, 50))
    )
    bucket, name = open_storage(pipeline.data_root).location(obj.key)
    engine = make_engine(pipeline.database_url)
    try:
        assert IngestedFiles(engine).claim(bucket, name, obj.generation, LEASE_SECONDS)
    finally:
        engine.dispose()

    held = deliver(pipeline, obj)
    assert held.status_code == 409 and "holds it until" in held.text
    time.sleep(LEASE_SECONDS + 0.5)
    assert deliver(pipeline, obj).status_code == 200
    row = ledger_row(pipeline, obj)
    assert row["status"] == "done" and row["attempts"] == 2 and row["inserted"] == 50
    wait_idle(pipeline)


def test_a_killed_training_process_fails_its_run_and_is_retried_once(pipeline: Stack) -> None:
    wait_idle(pipeline)
    before = champion(pipeline)
    started = pipeline.call("POST", "/v1/retrain", key=KEY, json={"reason": "kill test"})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["running"] is None and run["job"]["runner"] == "local"
    deadline = time.monotonic() + 60
    while pipeline.call("GET", run["status_url"]).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(run["job"]["pid"], signal.SIGKILL)

    deadline = time.monotonic() + 15
    while (record := pipeline.call("GET", run["status_url"]).json())["status"] == "running":
        assert time.monotonic() < deadline, record
        time.sleep(0.2)
    assert record["status"] == "failed" and "SIGKILL" in record["error"]
    assert record["reason"] == "kill test" and record["requested_by"] == "env:2"
    assert champion(pipeline) == before
    retry = pipeline.call("GET", f"/v1/runs/{record['retried_by']}", key=KEY).json()
    assert retry["retry_of"] == run["run_id"] and retry["snapshot"] == run["snapshot"]
    retry = wait_run(pipeline, record["retried_by"])
    assert retry["status"] == "succeeded" and retry["trigger"] == "retry"
    wait_idle(pipeline)


def test_twenty_retrain_calls_make_at_most_two_runs(pipeline: Stack) -> None:
    before = set(wait_idle(pipeline)["runs"])
    answers: list[requests.Response] = []
    barrier = threading.Barrier(20)

    def call() -> None:
        barrier.wait()
        answers.append(pipeline.call("POST", "/v1/retrain", key=KEY, json={}))

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [202] * 20, [a.text for a in answers]
    bodies = [a.json() for a in answers]
    started = [b for b in bodies if b["running"] is None]
    queued = [b for b in bodies if b["running"] is not None]
    assert len(started) == 1 and len({b["run_id"] for b in queued}) == 1
    assert sum(b["coalesced"] for b in queued) == len(queued) - 1
    runs = set(wait_idle(pipeline)["runs"]) - before
    assert len(runs) == 2
    for run_id in runs:
        record = pipeline.call("GET", f"/v1/runs/{run_id}").json()
        assert record["status"] == "succeeded", record
    follow_up = pipeline.call("GET", f"/v1/runs/{queued[0]['run_id']}").json()
    assert len(follow_up["requests"]) == len(queued)


def test_ten_files_at_once_through_the_watcher(pipeline: Stack, fresh_stones, tmp_path) -> None:
    wait_idle(pipeline)
    runs_before = set(pipeline.call("GET", "/v1/runs").json()["runs"])
    count = inventory_count(pipeline)
    storage = open_storage(pipeline.data_root)
    watcher = Watcher(storage, f"http://127.0.0.1:{pipeline.ports['ingest']}/", tmp_path / "w.json")
    for i in range(10):
        stones = slice_of(fresh_stones, pipeline, 2000 + 100 * i, 100)
        storage.write(f"incoming/batch/{i:02}.csv", csv_bytes(stones))
    watcher.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            batch = [r for r in ledger(pipeline) if "/batch/" in r["name"]]
            if len(batch) == 10 and all(r["status"] == "done" for r in batch):
                break
            assert time.monotonic() < deadline, batch
            time.sleep(0.5)
    finally:
        watcher.stop()
    assert all(r["attempts"] == 1 and r["inserted"] == 100 for r in batch)
    assert inventory_count(pipeline) == count + 1000
    assert len({r["run_id"] for r in batch}) <= 2
    new_runs = set(wait_idle(pipeline)["runs"]) - runs_before
    assert 1 <= len(new_runs) <= 2
