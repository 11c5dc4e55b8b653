"""Usage counting (functions/http/metering.py): once per request, off the request path, never
failing a request, and kept when the database fails."""

from __future__ import annotations

from functions.http.metering import BUCKETS_MS, Meter, percentile


def test_requests_are_tallied_per_partner_key_day_and_route() -> None:
    written = []
    meter = Meter(lambda tallies: written.append(tallies), clock=lambda: 1_796_083_200.0)
    meter.count("acme", "k1", "POST /v1/price", 200, 10, 3.2)
    meter.count("acme", "k1", "POST /v1/price", 429, 10, 0.1)
    meter.count("acme", "k1", "POST /v1/price", 500, 1, 12)
    meter.flush()
    (tallies,) = written
    tally = tallies[("acme", "k1", "2026-12-01", "POST /v1/price")]
    assert (tally.requests, tally.stones, tally.refused, tally.errors) == (3, 10, 1, 1)
    assert sum(tally.latency) == 3
    meter.flush()
    assert len(written) == 1


def test_a_failed_write_is_kept_for_the_next_and_shown() -> None:
    attempts = []

    def write(tallies):
        attempts.append(sum(t.requests for t in tallies.values()))
        if len(attempts) == 1:
            raise ConnectionError("database down")

    meter = Meter(write)
    meter.count("acme", "k1", "GET /v1/price", 200, 1, 1)
    meter.flush()
    assert meter.health()["failed_writes"] == 1
    meter.count("acme", "k1", "GET /v1/price", 200, 1, 1)
    meter.flush()
    assert attempts == [1, 2]


def test_percentiles_are_read_from_the_buckets() -> None:
    latency = [0] * (len(BUCKETS_MS) + 1)
    latency[0] = 50  # ≤ 1 ms
    latency[5] = 45  # ≤ 10 ms
    latency[-1] = 5  # slower than the last bound
    assert percentile(latency, 0.5) == 1
    assert percentile(latency, 0.95) == 10
    assert percentile([0] * len(latency), 0.5) is None
