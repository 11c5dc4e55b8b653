"""Limits (functions/http/limits.py): a partner's requests a minute, stones a month, and the
addresses that keep presenting bad keys."""

from __future__ import annotations

import pytest

from functions.http.keys import PRICE, Principal
from functions.http.limits import FAILED_KEYS_PER_MINUTE, Limits, Window
from functions.http.problems import HttpProblem

ACME = Principal("k1", frozenset({PRICE}), "acme", requests_per_minute=5, stones_per_month=100)


class Clock:
    def __init__(self, now: float = 1_796_083_200.0) -> None:  # 2026-12-01T00:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_partner_gets_its_minute_then_a_429_with_retry_after() -> None:
    clock = Clock()
    limits = Limits(clock)
    for sent in range(5):
        headers = limits.admit(ACME)
        assert headers["RateLimit-Policy"] == '"minute";q=5;w=60'
        assert headers["RateLimit"].startswith(f'"minute";r={4 - sent};t=')
    with pytest.raises(HttpProblem) as refused:
        limits.admit(ACME)
    problem = refused.value
    assert problem.status == 429
    assert int(problem.headers["Retry-After"]) >= 1
    assert problem.headers["RateLimit"].startswith('"minute";r=0;')
    clock.now += 120
    assert limits.admit(ACME)


def test_the_window_slides() -> None:
    clock = Clock()
    window = Window(clock)
    assert all(window.hit("a", 10)[0] for _ in range(10))
    clock.now += 60 + 30  # half of the previous minute still counts: 5 of 10
    allowed = [window.hit("a", 10)[0] for _ in range(10)]
    assert allowed.count(True) == 5


def test_the_team_and_anonymous_callers_are_not_limited() -> None:
    limits = Limits(Clock())
    team = Principal("env:team", frozenset({"admin"}))
    for _ in range(1000):
        assert limits.admit(team) == {}


def test_a_batch_that_would_cross_the_month_is_refused_whole() -> None:
    clock = Clock()
    limits = Limits(clock)
    limits.month_counted("2026-12", {"acme": 90})
    limits.take_stones(ACME, 6)
    with pytest.raises(HttpProblem) as refused:
        limits.take_stones(ACME, 5)
    assert refused.value.status == 429
    assert "has 4 left" in refused.value.detail
    limits.take_stones(ACME, 4)
    clock.now += 31 * 86400  # January: a new month
    limits.take_stones(ACME, 100)


def test_an_address_presenting_bad_keys_is_refused_a_while() -> None:
    clock = Clock()
    limits = Limits(clock)
    for _ in range(FAILED_KEYS_PER_MINUTE):
        limits.refuse_if_failing("10.0.0.1")
        limits.failed("10.0.0.1")
    with pytest.raises(HttpProblem) as refused:
        limits.refuse_if_failing("10.0.0.1")
    assert refused.value.status == 429
    limits.refuse_if_failing("10.0.0.2")
    clock.now += 121
    limits.refuse_if_failing("10.0.0.1")
