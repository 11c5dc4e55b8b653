"""Who is calling: bearer keys, known by an id, never by their secret or a hash of it.

`DIAMONDS_API_KEYS` lists the keys: `[read:][NAME=]SECRET`, comma-separated. A key is known as
`env:NAME`, or `env:<its position>` without a name; `read:` keys may read and price, the others
may also write. A request's caller is that id, or "anonymous".
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from functools import cache

from werkzeug.wrappers import Request

from functions.http.problems import HttpProblem

READ_ONLY = "read:"
ANONYMOUS = "anonymous"
_NAME = re.compile(r"[A-Za-z0-9._-]{1,40}")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="diamonds"'}


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes
    write: bool


@cache
def parse_keys(text: str) -> tuple[Key, ...]:
    """The keys of a DIAMONDS_API_KEYS value; ValueError for a name that is not one."""
    keys = []
    for position, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        write = not entry.startswith(READ_ONLY)
        entry = entry.removeprefix(READ_ONLY).strip()
        name, equals, secret = entry.partition("=")
        if not equals:
            name, secret = str(position), entry
        elif not _NAME.fullmatch(name):
            raise ValueError(f"key {position}: its name must be 1-40 letters, digits, . _ -")
        if secret:
            keys.append(Key(f"env:{name}", secret.encode(), write))
    return tuple(keys)


def authorize(
    request: Request,
    keys: tuple[Key, ...],
    *,
    write: bool,
    public: bool,
    read_requires_key: bool,
) -> str:
    """The caller's key id (or ANONYMOUS). A missing or unknown key is a 401 where one is
    needed; a read-only key on a write route is a 403. Every key is compared, in constant
    time."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if public or (not write and not read_requires_key and not presented):
        return ANONYMOUS
    if scheme.lower() != "bearer" or not presented:
        raise HttpProblem(
            401,
            "Unauthorized",
            "this needs an Authorization: Bearer <key> header",
            headers=CHALLENGE,
        )
    offered = presented.encode("utf-8", "surrogateescape")
    found = None
    for key in keys:
        if hmac.compare_digest(key.secret, offered):
            found = key
    if found is None:
        raise HttpProblem(401, "Unauthorized", "the bearer key is not valid", headers=CHALLENGE)
    if write and not found.write:
        raise HttpProblem(403, "Forbidden", "this key may read and price, not write")
    return found.id
