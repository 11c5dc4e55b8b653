"""Who is calling: bearer keys, known by an id, never by their secret.

A partner's key reads `dmd_live_<id>_<secret>` (a pattern secret scanners can match): the id
finds the key, the secret is checked against its SHA-256 digest in constant time. A key holds
scopes: `price`, `read`, `write`, `admin` (which allows everything).

`DIAMONDS_API_KEYS` lists the team's keys, `[read:][NAME=]SECRET`, comma-separated: known as
`env:NAME` (`env:<position>` without a name); a `read:` key may read and price, any other is an
admin key. A request with no key, where none is needed, is "anonymous".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from functions.http.problems import HttpProblem

PRICE, READ, WRITE, ADMIN = "price", "read", "write", "admin"
SCOPES = (PRICE, READ, WRITE, ADMIN)
READ_ONLY = "read:"
ANONYMOUS = "anonymous"
PREFIX = "dmd_live_"
ID_LENGTH, SECRET_LENGTH = 12, 32
KEY_LENGTH = len(PREFIX) + ID_LENGTH + 1 + SECRET_LENGTH
_KEY = re.compile(rf"{PREFIX}([a-z2-7]{{{ID_LENGTH}}})_([a-z2-7]{{{SECRET_LENGTH}}})")
MAX_PRESENTED = 256
"""Longer is no key: only this much of what is presented is ever read."""
_NAME = re.compile(r"[A-Za-z0-9._-]{1,40}")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="diamonds"'}
_NO_ID = "-" * ID_LENGTH
"""An id no key has."""
_DECOY = hashlib.sha256(b"-" * SECRET_LENGTH).hexdigest().encode()
"""Compared against when there is no key to compare with, so that a malformed or unknown key
costs what a wrong secret costs."""


def scopes_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class Principal:
    """The caller a key speaks for, and what its partner's plan allows."""

    key_id: str
    scopes: frozenset[str]
    partner: str | None = None
    requests_per_minute: int = 0
    """0: not limited (the team's keys, anonymous calls)."""
    stones_per_month: int = 0

    def may(self, scope: str) -> bool:
        return ADMIN in self.scopes or scope in self.scopes


NOBODY = Principal(ANONYMOUS, frozenset())


@dataclass(frozen=True)
class StoredKey:
    """A partner's key as a serving instance holds it."""

    principal: Principal
    digest: bytes
    """SHA-256 of the secret, in hex."""
    expires_at: float | None = None
    revoked_at: float | None = None
    """A POSIX time; a rotated key is revoked at the end of its grace period."""


class Keyring(Protocol):
    def find(self, key_id: str) -> StoredKey | None: ...

    def as_read(self) -> Keyring | None: ...


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """(id, secret, the key as shown to its holder, once)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    key_id = "".join(secrets.choice(alphabet) for _ in range(ID_LENGTH))
    secret = "".join(secrets.choice(alphabet) for _ in range(SECRET_LENGTH))
    return key_id, secret, f"{PREFIX}{key_id}_{secret}"


@cache
def parse_keys(text: str) -> tuple[tuple[Principal, bytes], ...]:
    """The keys of a DIAMONDS_API_KEYS value; ValueError for a name that is not one."""
    keys = []
    for position, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        read_only = entry.startswith(READ_ONLY)
        entry = entry.removeprefix(READ_ONLY).strip()
        name, equals, secret = entry.partition("=")
        if not equals:
            name, secret = str(position), entry
        elif not _NAME.fullmatch(name):
            raise ValueError(f"key {position}: its name must be 1-40 letters, digits, . _ -")
        if len(secret) > MAX_PRESENTED:
            raise ValueError(f"key {position}: at most {MAX_PRESENTED} characters")
        if secret:
            scopes = frozenset({PRICE, READ} if read_only else {ADMIN})
            keys.append((Principal(f"env:{name}", scopes), secret.encode()))
    return tuple(keys)


def unauthorized(detail: str) -> HttpProblem:
    return HttpProblem(401, "Unauthorized", detail, headers=CHALLENGE)


INVALID = "the bearer key is not valid"
MISSING = "this needs an Authorization: Bearer <key> header"


def presented_key(header: str) -> str | None:
    """The key an Authorization header presents; None without one."""
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if not header:
        return None
    if scheme.lower() != "bearer" or not presented:
        raise unauthorized(MISSING)
    return presented


def authenticate(
    presented: str,
    keyring: Keyring | None,
    team: tuple[tuple[Principal, bytes], ...],
    now: float | None = None,
) -> Principal:
    """The principal a key speaks for; a 401 saying whether the key is invalid, expired or
    revoked. Expired and revoked are said only to the holder of the right secret; an unknown
    id, a wrong secret and a malformed key are the same answer after the same work."""
    match = _KEY.fullmatch(presented) if len(presented) == KEY_LENGTH else None
    if match is None:
        offered = presented[:MAX_PRESENTED].encode("utf-8", "surrogateescape")
        found = None
        for principal, secret in team:
            if hmac.compare_digest(secret, offered):
                found = principal
        if found is not None and len(presented) <= MAX_PRESENTED:
            return found
        _as_unknown(keyring, hashlib.sha256(offered[:SECRET_LENGTH]).hexdigest())
        raise unauthorized(INVALID)
    key_id, secret = match.groups()
    stored = keyring.find(key_id) if keyring is not None else None
    expected = stored.digest if stored is not None else _DECOY
    if not hmac.compare_digest(expected, digest(secret).encode()) or stored is None:
        if stored is not None:
            _as_unknown(keyring, "")
        raise unauthorized(INVALID)
    now = time.time() if now is None else now
    if stored.revoked_at is not None and stored.revoked_at <= now:
        raise unauthorized("the bearer key was revoked: use another of your keys")
    if stored.expires_at is not None and stored.expires_at <= now:
        raise unauthorized("the bearer key has expired: ask for a new one")
    return stored.principal


def _as_unknown(keyring: Keyring | None, hexdigest: str) -> None:
    """Do what an unknown id costs (a miss, which looks for new keys, and a digest compared),
    so that a malformed key or a wrong secret cannot be told from it by its timing."""
    if keyring is not None:
        keyring.find(_NO_ID)
    hmac.compare_digest(_DECOY, hexdigest.encode() or _DECOY)


def forbidden(scope: str) -> HttpProblem:
    return HttpProblem(403, "Forbidden", f"this key does not hold the `{scope}` scope")
