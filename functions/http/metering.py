"""Usage, counted once per request off the request path: a request adds to an in-memory tally
(partner, key, day, route), and a background thread adds the tallies to the database every
second. A failed write is logged, kept for the next one and shown by the health endpoint: a
price never waits for it or fails with it.

Latency is counted in buckets (BUCKETS_MS): summed over instances and days, they give the
p50 and p95 to the width of a bucket.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

log = logging.getLogger("diamonds.usage")

BUCKETS_MS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000)
"""The upper bounds of the latency buckets, in ms; a last bucket holds what is slower."""


@dataclass
class Tally:
    requests: int = 0
    stones: int = 0
    refused: int = 0
    errors: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))
    last_used: float = 0.0

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.stones += other.stones
        self.refused += other.refused
        self.errors += other.errors
        self.latency = [a + b for a, b in zip(self.latency, other.latency, strict=True)]
        self.last_used = max(self.last_used, other.last_used)


Slot = tuple[str, str, str, str]
"""(partner, key id, day, route)."""


def percentile(latency: list[int], share: float) -> float | None:
    """The upper bound of the bucket that holds the `share` quantile (the slowest bucket's
    lower bound when it is there); None without requests."""
    total = sum(latency)
    if not total:
        return None
    rank, seen = share * total, 0
    for index, count in enumerate(latency):
        seen += count
        if seen >= rank:
            return float(BUCKETS_MS[min(index, len(BUCKETS_MS) - 1)])
    return float(BUCKETS_MS[-1])


class Meter:
    def __init__(
        self,
        write: Callable[[dict[Slot, Tally]], None],
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._write, self.interval, self._clock = write, interval, clock
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._tallies: dict[Slot, Tally] = {}
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.last_failure: str | None = None

    def count(
        self, partner: str, key_id: str, route: str, status: int, stones: int, latency_ms: float
    ) -> None:
        """Count one request; never raises and never waits for the database."""
        try:
            now = self._clock()
            day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
            bucket = bisect.bisect_left(BUCKETS_MS, latency_ms)
            with self._lock:
                tally = self._tallies.get((partner, key_id, day, route))
                if tally is None:
                    tally = self._tallies[(partner, key_id, day, route)] = Tally()
                tally.requests += 1
                if status < 300:
                    tally.stones += stones
                elif status >= 500:
                    tally.errors += 1
                elif status >= 400:
                    tally.refused += 1
                tally.latency[bucket] += 1
                tally.last_used = now
            if self._thread is None:
                self._start()
        except Exception:
            log.exception("could not count a request")

    def _start(self) -> None:
        with self._writing:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="usage", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()

    def flush(self) -> None:
        """Write what was counted so far (kept for the next flush if the write fails)."""
        with self._writing:
            with self._lock:
                tallies, self._tallies = self._tallies, {}
            if not tallies:
                return
            try:
                self._write(tallies)
            except Exception as exc:
                self.failures += 1
                self.last_failure = f"{datetime.now(UTC).isoformat()}: {type(exc).__name__}"
                log.exception("could not write the usage of %d keys and routes", len(tallies))
                with self._lock:
                    for slot, tally in tallies.items():
                        self._tallies.setdefault(slot, Tally()).add(tally)

    def health(self) -> dict[str, object]:
        return {
            "pending": len(self._tallies),
            "failed_writes": self.failures,
            "last_failure": self.last_failure,
        }
