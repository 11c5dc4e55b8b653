"""A local Eventarc: notices new objects under incoming/ of the DATA root (a folder, or a bucket
of the GCS emulator) and delivers each one's "object finalized" CloudEvent to the ingest
function over HTTP as Eventarc does: binary content mode, the object resource as data, and
retries with backoff until the function answers 2xx.

What was delivered is remembered in a state file, so a restarted watcher does not deliver it
again (a redelivery would be harmless anyway: the ingestion ledger makes it a no-op).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from functions.ingestion import FINALIZED, INCOMING
from training.storage import Storage, StoredObject

log = logging.getLogger("diamonds.eventarc")


def event_for(storage: Storage, obj: StoredObject) -> tuple[dict[str, str], bytes]:
    """The headers and body of the CloudEvent Eventarc sends for a finalized object."""
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
        "ce-id": event_id(bucket, name, obj.generation),
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        "ce-type": FINALIZED,
        "ce-subject": f"objects/{name}",
        "ce-time": now,
        "ce-bucket": bucket,
    }
    return headers, json.dumps(resource).encode()


def event_id(bucket: str, name: str, generation: str) -> str:
    """The same object generation always gets the same event id, as a redelivery does."""
    return hashlib.sha256(f"{bucket}/{name}#{generation}".encode()).hexdigest()[:32]


class Watcher:
    """Polls `storage` every `interval` seconds and delivers new objects' events to `target`.

    An object is delivered once it looks the same (generation and size) on two polls in a
    row, so that a file still being copied into a folder is not taken up half-written.
    """

    def __init__(
        self,
        storage: Storage,
        target: str,
        state: Path,
        *,
        interval: float = 0.5,
        max_backoff: float = 30.0,
        workers: int = 4,
    ) -> None:
        self.storage, self.target, self.state = storage, target, state
        self.interval, self.max_backoff = interval, max_backoff
        self._delivered: dict[str, str] = self._load()
        self._last_seen: dict[str, StoredObject] = {}
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="eventarc")
        self._thread: threading.Thread | None = None

    def _load(self) -> dict[str, str]:
        try:
            return json.loads(self.state.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _save(self) -> None:
        self.state.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._delivered, indent=1, sort_keys=True))
        temporary.replace(self.state)

    def start(self) -> Watcher:
        self._thread = threading.Thread(target=self._run, name="eventarc-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # the bucket is out of reach: try again at the next poll
                log.warning("watching %s%s failed: %s", self.storage.uri, INCOMING, exc)
            self._stop.wait(self.interval)

    def poll(self) -> list[StoredObject]:
        """Look once; start delivering what is new and settled. Returns what was started."""
        objects = {o.key: o for o in self.storage.objects(INCOMING) if not o.key.endswith("/")}
        ready = []
        for key, obj in objects.items():
            ident = self._ident(obj)
            with self._lock:
                known = ident in self._delivered or ident in self._in_flight
                if known or self._last_seen.get(key) != obj:
                    continue
                self._in_flight.add(ident)
            ready.append(obj)
            self._pool.submit(self._deliver, obj, ident)
        self._last_seen = objects
        return ready

    def _ident(self, obj: StoredObject) -> str:
        bucket, name = self.storage.location(obj.key)
        return f"{bucket}/{name}#{obj.generation}"

    def _deliver(self, obj: StoredObject, ident: str) -> None:
        headers, body = event_for(self.storage, obj)
        attempt = 0
        while not self._stop.is_set():
            status, answer = self._post(headers, body)
            if 200 <= status < 300:
                with self._lock:
                    self._in_flight.discard(ident)
                    self._delivered[ident] = datetime.now(UTC).isoformat()
                    self._save()
                return
            attempt += 1
            wait = min(self.max_backoff, 0.5 * 2**attempt) * random.uniform(0.8, 1.2)
            log.info("delivery of %s: %s %s; again in %.1f s", ident, status, answer, wait)
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
