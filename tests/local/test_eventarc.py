"""The local Eventarc (local/eventarc.py): what it delivers, when, and how often."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cloudevents.http import from_http

from functions.ingestion import DELETED, FINALIZED
from local.eventarc import Watcher
from tests.gcs_emulator import gcs_client
from tests.local_server import QuietHandler, local_server
from training.storage import GCSStorage, LocalStorage, Storage


@dataclass
class Receiver:
    """An HTTP endpoint standing in for the ingest function: records events, answers with the
    statuses it is given (then 200)."""

    url: str = ""
    events: list = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def answered(self, n: int, seconds: float = 20) -> list:
        deadline = time.monotonic() + seconds
        while len(self.events) < n:
            assert time.monotonic() < deadline, self.events
            time.sleep(0.05)
        return self.events


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.events.append(from_http(dict(self.headers), body))
            status = received.statuses.pop(0) if received.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with local_server(Handler) as url:
        received.url = url + "/"
        yield received


@pytest.fixture(params=["local", pytest.param("gcs", marks=pytest.mark.gcs)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "data")
    return GCSStorage(request.getfixturevalue("gcs_bucket"), "data", client=gcs_client())


def watch(storage: Storage, receiver: Receiver, state: Path) -> Watcher:
    return Watcher(storage, receiver.url, state, interval=0.05, max_backoff=0.2).start()


def test_each_new_object_is_delivered_once_as_eventarc_does(
    storage: Storage, receiver: Receiver, tmp_path: Path
) -> None:
    storage.write("incoming/a.csv", b"carat\n1\n")
    storage.write("quarantine/x.report.json", b"{}")
    watcher = watch(storage, receiver, tmp_path / "state.json")
    try:
        (event,) = receiver.answered(1)
        storage.write("incoming/sub/b.csv", b"carat\n2\n")
        receiver.answered(2)
        time.sleep(0.5)
    finally:
        watcher.stop()
    assert len(receiver.events) == 2
    bucket, name = storage.location("incoming/a.csv")
    assert event["type"] == "google.cloud.storage.object.v1.finalized"
    assert event["source"] == f"//storage.googleapis.com/projects/_/buckets/{bucket}"
    assert event["subject"] == f"objects/{name}" and event["specversion"] == "1.0"
    (a,) = storage.objects("incoming/a.csv")
    assert event.data == {**event.data, "bucket": bucket, "name": name, "size": "8"}
    assert event.data["generation"] == a.generation

    restarted = watch(storage, receiver, tmp_path / "state.json")
    try:
        time.sleep(0.5)
        assert len(receiver.events) == 2
        time.sleep(0.01)
        storage.write("incoming/a.csv", b"carat\n3\n")
        third = receiver.answered(3)[2]
    finally:
        restarted.stop()
    assert third["id"] != event["id"] and third.data["generation"] != a.generation
    state = json.loads((tmp_path / "state.json").read_text())
    assert sorted((v["key"], v["generation"], v["type"]) for v in state.values()) == sorted(
        [
            ("incoming/a.csv", a.generation, FINALIZED),
            ("incoming/a.csv", third.data["generation"], FINALIZED),
            ("incoming/sub/b.csv", storage.objects("incoming/sub/")[0].generation, FINALIZED),
        ]
    )


def test_a_refused_delivery_is_retried_until_it_is_taken(
    storage: Storage, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.statuses = [503, 409, 500]
    storage.write("incoming/a.csv", b"carat\n1\n")
    watcher = watch(storage, receiver, tmp_path / "state.json")
    try:
        events = receiver.answered(4)
        time.sleep(0.5)
    finally:
        watcher.stop()
    assert len(receiver.events) == 4 and len({e["id"] for e in events}) == 1


def test_a_file_still_being_written_waits_until_it_settles(
    receiver: Receiver, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "data")
    path = tmp_path / "data" / "incoming" / "big.csv"
    path.parent.mkdir(parents=True)
    watcher = Watcher(storage, receiver.url, tmp_path / "state.json", interval=0.2)
    with open(path, "wb") as growing:
        for _ in range(8):
            growing.write(b"carat\n1\n")
            growing.flush()
            watcher.poll()
            time.sleep(0.05)
    assert receiver.events == []
    watcher.poll()
    watcher.poll()
    (event,) = receiver.answered(1)
    watcher.stop()
    assert event.data["size"] == str(8 * 8)


def test_a_deleted_file_is_announced_deleted_once(
    storage: Storage, receiver: Receiver, tmp_path: Path
) -> None:
    storage.write("incoming/a.csv", b"carat\n1\n")
    storage.write("incoming/b.csv", b"carat\n2\n")
    watcher = watch(storage, receiver, tmp_path / "state.json")
    try:
        receiver.answered(2)
        (a,) = storage.objects("incoming/a.csv")
        _remove(storage, "incoming/a.csv")
        deleted = receiver.answered(3)[2]
    finally:
        watcher.stop()
    assert deleted["type"] == DELETED and deleted.data["generation"] == a.generation
    assert deleted.data["name"] == storage.location("incoming/a.csv")[1]
    restarted = watch(storage, receiver, tmp_path / "state.json")
    try:
        time.sleep(0.5)
    finally:
        restarted.stop()
    assert len(receiver.events) == 3


def _remove(storage: Storage, key: str) -> None:
    if isinstance(storage, LocalStorage):
        (storage.root / key).unlink()
    else:
        gcs_client().bucket(storage.location(key)[0]).blob(storage.location(key)[1]).delete()


def test_temporary_hidden_and_empty_files_are_never_announced(
    receiver: Receiver, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "data")
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    for name in ("a.csv.part", "a.csv.tmp", "a.csv~", ".a.csv.swp", "a.csv.crdownload", "e.csv"):
        (incoming / name).write_bytes(b"" if name == "e.csv" else b"carat\n1\n")
    watcher = watch(storage, receiver, tmp_path / "state.json")
    try:
        time.sleep(0.6)
        assert receiver.events == []
        (incoming / "a.csv.part").rename(incoming / "a.csv")
        (event,) = receiver.answered(1)
        time.sleep(0.3)
    finally:
        watcher.stop()
    assert event.data["name"].endswith("incoming/a.csv") and len(receiver.events) == 1


def test_a_copy_that_pauses_is_announced_once_whole(receiver: Receiver, tmp_path: Path) -> None:
    """A copy that stops for longer than the watcher looks is not taken up half-written: the
    file is announced once, when it is closed, with all its bytes."""
    storage = LocalStorage(tmp_path / "data")
    path = tmp_path / "data" / "incoming" / "slow.csv"
    path.parent.mkdir(parents=True)
    watcher = watch(storage, receiver, tmp_path / "state.json")
    try:
        with open(path, "wb") as copy:
            for _ in range(4):
                copy.write(b"carat\n2.5")
                copy.flush()
                time.sleep(0.4)
                copy.write(b"99\n")
                copy.flush()
            assert receiver.events == []
        (event,) = receiver.answered(1)
        time.sleep(0.3)
    finally:
        watcher.stop()
    assert event.data["size"] == str(4 * 12) and len(receiver.events) == 1
