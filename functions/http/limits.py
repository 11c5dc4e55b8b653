"""Each partner's limits, in this instance: requests a minute and stones a month, and the
addresses that keep presenting bad keys.

The minute is a sliding window counter (the previous fixed minute's count weighted by how much
of it the sliding window still covers, plus the current minute's): constant memory and a few
operations under a lock per request. The stones of the month are the database's count at the
last refresh (functions/http/keyring.py) plus what this instance has let through since.

With several instances each counts its own requests: the edge (Cloud Armor, keyed on the
Authorization header) holds a partner to its rate across instances, this is the second line.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from functions.http.keys import Principal
from functions.http.problems import HttpProblem

WINDOW = 60
FAILED_KEYS_PER_MINUTE = 30
"""Bad keys one address may present in a minute before it is refused a while."""
MINUTE_POLICY = "minute"


class Window:
    """Counts hits per name in a sliding window of WINDOW seconds."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int, int]] = {}
        """name → (the current fixed window's index, its count, the previous window's)."""

    def _state(self, name: str, now: float) -> tuple[int, int, int, float]:
        index = int(now // WINDOW)
        current, count, previous = self._counts.get(name, (index, 0, 0))
        if current != index:
            previous = count if current == index - 1 else 0
            current, count = index, 0
        weight = 1 - (now - index * WINDOW) / WINDOW
        return current, count, previous, weight

    def hit(self, name: str, limit: int) -> tuple[bool, int, int]:
        """Count one hit unless the limit is reached: (allowed, remaining, seconds until a
        hit is allowed again, or until the window has moved on)."""
        now = self._clock()
        with self._lock:
            index, count, previous, weight = self._state(name, now)
            used = count + previous * weight
            allowed = used + 1 <= limit
            if allowed:
                count += 1
                used += 1
            self._counts[name] = (index, count, previous)
        remaining = max(0, math.floor(limit - used))
        reset = (index + 1) * WINDOW - now
        if not allowed and previous:
            reset = min(reset, max(1.0, (used + 1 - limit) / previous * WINDOW))
        return allowed, remaining, max(1, math.ceil(reset))

    def count(self, name: str) -> float:
        with self._lock:
            _, count, previous, weight = self._state(name, self._clock())
        return count + previous * weight


class Limits:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.requests = Window(clock)
        self.failures = Window(clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._month_used: dict[str, int] = {}
        self._month_taken: dict[str, int] = {}
        self._month = ""

    def admit(self, principal: Principal) -> dict[str, str]:
        """The RateLimit headers for the partner's answer; a 429 when its minute is spent."""
        limit = principal.requests_per_minute
        if not limit or principal.partner is None:
            return {}
        allowed, remaining, reset = self.requests.hit(principal.partner, limit)
        headers = {
            "RateLimit-Policy": f'"{MINUTE_POLICY}";q={limit};w={WINDOW}',
            "RateLimit": f'"{MINUTE_POLICY}";r={remaining};t={reset}',
        }
        if not allowed:
            raise HttpProblem(
                429,
                "Too many requests",
                f"this partner may send {limit:,} requests a minute; retry in {reset} s",
                headers={**headers, "Retry-After": str(reset)},
            )
        return headers

    def refuse_if_failing(self, address: str) -> None:
        """A 429 for an address that presented too many bad keys in the last minute."""
        if self.failures.count(address) >= FAILED_KEYS_PER_MINUTE:
            raise HttpProblem(
                429,
                "Too many bad keys",
                f"this address presented {FAILED_KEYS_PER_MINUTE} bad keys within a minute; "
                f"retry in {WINDOW} s",
                headers={"Retry-After": str(WINDOW)},
            )

    def failed(self, address: str) -> None:
        self.failures.hit(address, FAILED_KEYS_PER_MINUTE + 1)

    def take_stones(self, principal: Principal, stones: int) -> None:
        """Count `stones` against the partner's month; a 429 naming what remains when they
        would cross it (the request is refused whole)."""
        quota, partner = principal.stones_per_month, principal.partner
        if not quota or partner is None or not stones:
            return
        month = self.month()
        with self._lock:
            if month != self._month:
                self._month, self._month_used, self._month_taken = month, {}, {}
            used = self._month_used.get(partner, 0) + self._month_taken.get(partner, 0)
            if used + stones > quota:
                remaining = max(0, quota - used)
                raise HttpProblem(
                    429,
                    "Monthly quota reached",
                    f"this partner may price {quota:,} stones a month and has {remaining:,} "
                    f"left; this request asks for {stones:,}",
                    [{"field": "", "detail": f"{remaining} stones remain this month"}],
                    headers={"Retry-After": str(self._seconds_to_next_month())},
                )
            self._month_taken[partner] = self._month_taken.get(partner, 0) + stones

    def month_counted(self, month: str, used: dict[str, int]) -> None:
        """The stones each partner priced this month, as the database counts them now: what
        this instance let through so far is among them, or soon will be."""
        with self._lock:
            self._month, self._month_used, self._month_taken = month, dict(used), {}

    def month(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m")

    def _seconds_to_next_month(self) -> int:
        now = datetime.fromtimestamp(self._clock(), UTC)
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        start = (
            first.replace(year=now.year + 1, month=1)
            if now.month == 12
            else first.replace(month=now.month + 1)
        )
        return max(1, math.ceil((start - now).total_seconds()))
