"""A local Eventarc: notices objects written to, or deleted from, incoming/ of the DATA root
(a folder, or a bucket of the GCS emulator) and delivers each one's "object finalized" or
"object deleted" CloudEvent to the ingest function over HTTP as Eventarc does: binary content
mode, the object resource as data, and retries with backoff until the function answers 2xx.

Cloud Storage announces an object only once it is whole. A folder has no such moment, so the
watcher makes one: a file is announced once it is unchanged over two looks and no longer open
for writing (on Linux, the kernel says when a file written to is closed: `FileWrites`;
elsewhere the file must also be left alone for `settle` seconds). Names that copying tools give
unfinished files (`.part`, `.tmp`, `~`, hidden files: functions.ingestion.is_data_file) and
empty files are never announced.

What was delivered is remembered in a state file, so a restarted watcher does not deliver it
again (a redelivery would be harmless anyway: the ingestion ledger makes it a no-op).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from functions.ingestion import DELETED, FINALIZED, INCOMING, is_data_file
from training.storage import LocalStorage, Storage, StoredObject

log = logging.getLogger("diamonds.eventarc")


def event_for(
    storage: Storage, obj: StoredObject, event_type: str = FINALIZED
) -> tuple[dict[str, str], bytes]:
    """The headers and body of the CloudEvent Eventarc sends for an object finalized (or
    deleted: `DELETED`)."""
    bucket, name = storage.location(obj.key)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    resource = {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/{obj.generation}",
        "name": name,
        "bucket": bucket,
        "generation": obj.generation,
        "metageneration": "1",
        "contentType": "text/csv",
        "size": str(obj.size),
        "timeCreated": now,
        "updated": now,
    }
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "ce-specversion": "1.0",
        "ce-id": event_id(bucket, name, obj.generation, event_type),
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        "ce-type": event_type,
        "ce-subject": f"objects/{name}",
        "ce-time": now,
        "ce-bucket": bucket,
    }
    return headers, json.dumps(resource).encode()


def event_id(bucket: str, name: str, generation: str, event_type: str = FINALIZED) -> str:
    """The same event about an object generation always gets the same id, as a redelivery
    does."""
    suffix = "" if event_type == FINALIZED else f"/{event_type}"
    return hashlib.sha256(f"{bucket}/{name}#{generation}{suffix}".encode()).hexdigest()[:32]


class FileWrites:
    """Which files below a folder are open for writing, from the kernel's notifications (Linux
    inotify, through watchdog): a file written to is being written until it is closed. A file
    moved in whole, never written to in the folder, is complete at once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._writing: set[str] = set()
        self._lock = threading.Lock()
        self._observer: Any = None

    @staticmethod
    def supported() -> bool:
        """Whether the platform says when a file is closed after writing (Linux does)."""
        return sys.platform.startswith("linux")

    def start(self) -> FileWrites:
        from watchdog.events import (
            FileClosedEvent,
            FileDeletedEvent,
            FileModifiedEvent,
            FileMovedEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        writes = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                with writes._lock:
                    if isinstance(event, FileModifiedEvent):
                        writes._writing.add(event.src_path)
                    elif isinstance(event, FileClosedEvent | FileDeletedEvent):
                        writes._writing.discard(event.src_path)
                    elif isinstance(event, FileMovedEvent):
                        writes._writing.discard(event.src_path)
                        writes._writing.discard(event.dest_path)

        self.folder.mkdir(parents=True, exist_ok=True)
        self._observer = Observer()
        self._observer.schedule(Handler(), str(self.folder), recursive=True)
        self._observer.start()
        return self

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()

    def being_written(self, path: Path) -> bool:
        with self._lock:
            return str(path) in self._writing


class Watcher:
    """Polls `storage` every `interval` seconds and delivers objects' events to `target`.

    An object is announced once it looks the same (generation and size) on two polls in a
    row, is not empty, and, in a folder, is no longer being written (`writes`; without it, its
    last change is at least `settle` seconds old). A delivered object that is gone is
    announced deleted.
    """

    def __init__(
        self,
        storage: Storage,
        target: str,
        state: Path,
        *,
        interval: float = 0.5,
        max_backoff: float = 10.0,
        workers: int = 4,
        settle: float = 2.0,
    ) -> None:
        self.storage, self.target, self.state = storage, target, state
        self.interval, self.max_backoff, self.settle = interval, max_backoff, settle
        self._delivered: dict[str, dict[str, str]] = self._load()
        self._last_seen: dict[str, StoredObject] = {}
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="eventarc")
        self._thread: threading.Thread | None = None
        self._writes: FileWrites | None = None
        if isinstance(storage, LocalStorage) and FileWrites.supported():
            self._writes = FileWrites(storage.root / INCOMING)

    def _load(self) -> dict[str, dict[str, str]]:
        """What was delivered: event ident → its key, generation, event type and time. A state
        file in another form is read as nothing delivered (a redelivery changes nothing)."""
        try:
            state = json.loads(self.state.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        valid = isinstance(state, dict) and all(
            isinstance(v, dict) and {"key", "generation", "type"} <= set(v) for v in state.values()
        )
        return state if valid else {}

    def _save(self) -> None:
        self.state.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._delivered, indent=1, sort_keys=True))
        temporary.replace(self.state)

    def start(self) -> Watcher:
        if self._writes is not None:
            self._writes.start()
        self._thread = threading.Thread(target=self._run, name="eventarc-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._writes is not None:
            self._writes.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # the bucket is out of reach: try again at the next poll
                log.warning("watching %s%s failed: %s", self.storage.uri, INCOMING, exc)
            self._stop.wait(self.interval)

    def poll(self) -> list[tuple[str, StoredObject]]:
        """Look once; start delivering what is new and whole, and what is gone. Returns the
        (event type, object) pairs started."""
        objects = {o.key: o for o in self.storage.objects(INCOMING) if is_data_file(o.key)}
        started = [
            (FINALIZED, obj)
            for key, obj in objects.items()
            if self._last_seen.get(key) == obj and self._whole(obj)
        ]
        started += [(DELETED, obj) for obj in self._gone(objects)]
        started = [(kind, obj) for kind, obj in started if self._take(kind, obj)]
        self._last_seen = objects
        return started

    def _whole(self, obj: StoredObject) -> bool:
        if obj.size == 0:
            return False
        if not isinstance(self.storage, LocalStorage):
            return True
        path = self.storage.root / obj.key
        if self._writes is not None:
            return not self._writes.being_written(path)
        return time.time_ns() - int(obj.generation) >= self.settle * 1e9

    def _gone(self, objects: dict[str, StoredObject]) -> list[StoredObject]:
        """The newest delivered generation of each object that no longer exists, once."""
        newest: dict[str, dict[str, str]] = {}
        with self._lock:
            delivered = list(self._delivered.values())
        for entry in delivered:
            key = entry["key"]
            if (
                entry["type"] == FINALIZED
                and key not in objects
                and (key not in newest or int(entry["generation"]) > int(newest[key]["generation"]))
            ):
                newest[key] = entry
        return [StoredObject(key, entry["generation"], 0) for key, entry in newest.items()]

    def _take(self, event_type: str, obj: StoredObject) -> bool:
        """Start delivering the event, unless it was delivered or is being delivered."""
        ident = self._ident(obj, event_type)
        with self._lock:
            if ident in self._delivered or ident in self._in_flight:
                return False
            self._in_flight.add(ident)
        self._pool.submit(self._deliver, event_type, obj, ident)
        return True

    def _ident(self, obj: StoredObject, event_type: str) -> str:
        bucket, name = self.storage.location(obj.key)
        return event_id(bucket, name, obj.generation, event_type)

    def _deliver(self, event_type: str, obj: StoredObject, ident: str) -> None:
        headers, body = event_for(self.storage, obj, event_type)
        attempt = 0
        while not self._stop.is_set():
            status, answer = self._post(headers, body)
            if 200 <= status < 300:
                entry = {
                    "key": obj.key,
                    "generation": obj.generation,
                    "type": event_type,
                    "at": datetime.now(UTC).isoformat(),
                }
                with self._lock:
                    self._in_flight.discard(ident)
                    self._delivered[ident] = entry
                    self._save()
                return
            attempt += 1
            wait = min(self.max_backoff, 0.5 * 2**attempt) * random.uniform(0.8, 1.2)
            log.info("delivery of %s: %s %s; again in %.1f s", obj.key, status, answer, wait)
            self._stop.wait(wait)
        with self._lock:
            self._in_flight.discard(ident)

    def _post(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        request = urllib.request.Request(self.target, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return response.status, ""
        except urllib.error.HTTPError as error:
            detail = error.read(500).decode("utf-8", "replace")
            return error.code, " ".join(detail.split())[:200]
        except OSError as error:
            return 0, f"unreachable: {error}"
