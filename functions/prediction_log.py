"""The prediction log, written off the request path: pricing hands entries to a queue and a
background thread inserts them in batches. A failing log never fails a price.

Every pricing request is an entry, refused ones included: a refused request's entry holds its
status and the problem document answered (its detail and `errors[].field`). A priced request's
entry also brings its stones and prices (`priced`), which the writer turns into one row per
stone, with the factors of the price of a sample of them (`priced_stones`): what drift is
counted on."""

from __future__ import annotations

import atexit
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

log = logging.getLogger("diamonds.prediction_log")


class PredictionLogger:
    def __init__(
        self,
        write_many: Callable[[list[dict]], None],
        batch_size: int = 500,
        interval: float = 0.5,
        capacity: int = 100_000,
    ) -> None:
        self._write_many, self.batch_size, self.interval = write_many, batch_size, interval
        self.capacity = capacity
        self._queue: deque[dict] = deque()
        """Appended by the serving threads, emptied from the left by the writer: both atomic."""
        self._arrived = threading.Event()
        self._batch_full = threading.Event()
        self._writing = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, entry: dict) -> None:
        """Queue one entry; never raises and never blocks."""
        try:
            if len(self._queue) >= self.capacity:
                log.warning(
                    "the prediction log is %d entries behind; an entry was dropped", self.capacity
                )
                return
            entry.setdefault("created_at", datetime.now(UTC))
            self._queue.append(entry)
            if len(self._queue) >= self.batch_size and not self._batch_full.is_set():
                self._batch_full.set()
            if not self._arrived.is_set():
                self._arrived.set()
            if self._thread is None:
                self._start()
        except Exception:
            log.exception("could not queue a prediction log entry")

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="prediction-log", daemon=True
                )
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        """After the first entry, wait until a batch is full or `interval` seconds have
        passed, so a busy instance writes few, large transactions."""
        while True:
            self._arrived.wait()
            full = self._batch_full.wait(self.interval)
            self._batch_full.clear()
            self._arrived.clear()
            self._write_queued(partial=not full)
            if self._queue:
                self._arrived.set()

    def _write_queued(self, partial: bool) -> None:
        """Write the entries queued when called, in full batches, and the last, partial one if
        `partial`. Entries that arrive meanwhile wait for the next call: under steady load they
        would otherwise be written as they come, in transactions of a few entries each.

        Entries leave the queue only while the lock is held, so whoever holds it next finds
        them written."""
        with self._writing:
            queued = len(self._queue)
            due = queued if partial else queued - queued % self.batch_size
            while due > 0 and (batch := self._take(min(due, self.batch_size))):
                due -= len(batch)
                try:
                    self._write_many([storable(entry) for entry in batch])
                except Exception:
                    log.exception("could not write %d prediction log entries", len(batch))

    def _take(self, count: int) -> list[dict]:
        return [self._queue.popleft() for _ in range(min(count, len(self._queue)))]

    def flush(self) -> None:
        """Write every entry submitted so far, waiting for a batch being written now (used at
        exit and by tests)."""
        self._write_queued(partial=True)

    def stopping(self) -> None:
        """The process is being stopped, and may end without its exit handlers: what is queued
        is written now, and every entry still to come as soon as it comes."""
        self.interval = 0.0
        self.flush()
        self._batch_full.set()  # a writer waiting out the interval is woken


JSON_FIELDS = ("request", "response")
PRICED = "priced"
"""The key of an entry's (stones, prices): not a column of the log."""
LogFactors = Callable[[str, np.ndarray], np.ndarray | None]
"""The log factors per characteristic of stones (a feature matrix) priced by a model version,
or None when that model no longer serves."""


FACTOR_EVERY = 8
"""One priced stone in this many, at most, gets its factors logged: explaining every stone cost
the writer several times what the rest of the log costs it, in the process that prices; a
factor's mean over one stone in eight is the same figure, with a little more noise."""
FACTORS_PER_BATCH = 16
"""And at most this many of a batch's stones priced by one model: a busy instance writes full
batches every fraction of a second, each still bringing this many explained stones."""


def factor_stride(stones: int) -> int:
    """One stone in how many of a batch's `stones` (of one model) gets its factors logged."""
    return max(FACTOR_EVERY, -(-stones // FACTORS_PER_BATCH))


def priced_stones(entries: list[dict], log_factors: LogFactors) -> list[dict]:
    """The stones the entries priced, as rows of the priced stones' table, taking them out of
    the entries; the factors of one stone in `factor_stride` (by its place among a model
    version's stones in the batch) computed in one go per model version."""
    from training.features import GROUPS, stone_rows
    from training.record import CATEGORIES, FEATURES

    by_version: dict[str, list[tuple[dict, list, list[float]]]] = {}
    for entry in entries:
        stones, prices = entry.pop(PRICED, None) or ((), ())
        if stones and entry.get("model_version"):
            by_version.setdefault(entry["model_version"], []).append((entry, stones, prices))
    rows: list[dict] = []
    names = [f"factor_{group}" for group in GROUPS]
    for version, priced in by_version.items():
        values = [row for _, stones, _ in priced for row in stone_rows(stones)]
        every = factor_stride(len(values))
        factors = log_factors(version, np.array(values[::every], dtype=float))
        explained = [] if factors is None else factors.tolist()
        at = 0
        for entry, _, prices in priced:
            for price in prices:
                row = dict(zip(FEATURES, values[at], strict=True))
                for name in CATEGORIES:
                    row[name] = int(row[name])
                sampled = at % every == 0 and explained
                row.update(
                    zip(names, explained[at // every] if sampled else [None] * 5, strict=True)
                )
                row.update(
                    created_at=entry["created_at"],
                    partner=entry.get("partner"),
                    model_version=version,
                    price=price,
                )
                rows.append(row)
                at += 1
    return rows


def storable(entry: dict) -> dict:
    """The entry with JSON fields every database stores, written once as JSON text (orjson
    fragments, which the database layer embeds as they are): a request as a client sent it may
    hold a NUL character (PostgreSQL's JSON refuses it: it becomes U+FFFD) or nest deeper than
    JSON is written (it is replaced by a note saying so). Done here, in the background thread."""
    for name in JSON_FIELDS:
        document = entry.get(name)
        if document is None:
            continue
        try:
            text = orjson.dumps(document)
        except orjson.JSONEncodeError as exc:
            text = orjson.dumps({"unstorable": str(exc)})
        else:
            if b"\\u0000" in text:
                text = orjson.dumps(_without_nul(document))
        entry[name] = orjson.Fragment(text)
    return entry


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value
