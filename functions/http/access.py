"""Who may do what, how much, and what it used: the router asks `Access` to admit each request
(the key, its scope, the partner's limits) and tells it what each answer was (usage).

Without a keyring (a function with no database) only the team's keys are known; without a
meter nothing is counted.
"""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.wrappers import Request

from functions.http.keys import (
    MISSING,
    NOBODY,
    Keyring,
    Principal,
    authenticate,
    forbidden,
    presented_key,
    unauthorized,
)
from functions.http.limits import Limits
from functions.http.metering import Meter
from functions.http.problems import HttpProblem


class Access:
    def __init__(
        self,
        keyring: Keyring | None = None,
        meter: Meter | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.keyring, self.meter = keyring, meter
        self.limits = limits or Limits()

    def identify(
        self,
        request: Request,
        team: tuple[tuple[Principal, bytes], ...],
        *,
        public: bool,
        key_required: bool,
    ) -> Principal:
        """The caller: a 401 for a missing or bad key where one is needed, a 429 for an
        address that presented too many bad keys."""
        if public:
            return NOBODY
        presented = presented_key(request.headers.get("Authorization", ""))
        if presented is None:
            if key_required:
                raise unauthorized(MISSING)
            return NOBODY
        address = request_address(request)
        self.limits.refuse_if_failing(address)
        try:
            return authenticate(presented, self.keyring, team)
        except HttpProblem:
            self.limits.failed(address)
            raise

    def recognise(
        self,
        authorization: str,
        address: Callable[[], str],
        team: tuple[tuple[Principal, bytes], ...],
    ) -> Principal | None:
        """The caller, when telling it takes neither the database nor a change of state:
        NOBODY without a key, a team key, a partner key among the keys read; None for anything
        else (a missing scheme, a bad key, a key not read yet, an address refused), which
        `identify` then answers, counting a bad key."""
        try:
            presented = presented_key(authorization)
            if presented is None:
                return NOBODY
            self.limits.refuse_if_failing(address())
            keys = self.keyring.as_read() if self.keyring is not None else None
            return authenticate(presented, keys, team)
        except HttpProblem:
            return None

    def admit(self, principal: Principal, scope: str) -> dict[str, str]:
        """The RateLimit headers for the caller's answer; a 429 past its partner's minute,
        a 403 for a key without `scope` (with those headers too)."""
        headers = self.limits.admit(principal)
        if principal is not NOBODY and not principal.may(scope):
            problem = forbidden(scope)
            problem.headers.update(headers)
            raise problem
        return headers

    def count(
        self, principal: Principal, route: str, status: int, stones: int, latency_ms: float
    ) -> None:
        if self.meter is not None and principal.partner is not None:
            self.meter.count(principal.partner, principal.key_id, route, status, stones, latency_ms)

    def health(self) -> dict[str, object]:
        return self.meter.health() if self.meter is not None else {}


def request_address(request: Request) -> str:
    return client_address(request.headers.get("X-Forwarded-For", ""), request.remote_addr or "")


def client_address(forwarded_for: str, remote: str) -> str:
    """The client's address: behind the load balancer, the one it appended to
    X-Forwarded-For (the last but one entry; those before it are the client's to write)."""
    forwarded = [part.strip() for part in forwarded_for.split(",")]
    if len(forwarded) >= 2:
        return forwarded[-2]
    return remote
