"""Bearer keys (functions/http/keys.py, functions/http/access.py): who may read, price, write
and administer, and by what id a caller is known: never by its secret or a hash of it."""

from __future__ import annotations

import contextlib
import statistics
import time

import pytest
from pydantic import ValidationError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from functions.http.access import Access
from functions.http.keys import (
    ADMIN,
    KEY_LENGTH,
    PRICE,
    READ,
    WRITE,
    Principal,
    StoredKey,
    authenticate,
    digest,
    new_key,
    parse_keys,
)
from functions.http.problems import HttpProblem
from functions.settings import ServiceSettings

TEAM = parse_keys("team=team-key,read:partner-key")


class Ring:
    def __init__(self, *keys: tuple[str, StoredKey]) -> None:
        self.keys = dict(keys)

    def find(self, key_id: str) -> StoredKey | None:
        return self.keys.get(key_id)


def stored(scopes=(PRICE,), expires=None, revoked=None) -> tuple[str, str, StoredKey]:
    key_id, secret, key = new_key()
    principal = Principal(key_id, frozenset(scopes), "acme", 60, 1000)
    return key, key_id, StoredKey(principal, digest(secret).encode(), expires, revoked)


def request(key: str | None = None, scheme: str = "Bearer") -> Request:
    headers = {"Authorization": f"{scheme} {key}"} if key is not None else {}
    return Request(EnvironBuilder(path="/v1/price", headers=headers).get_environ())


def check(key: str | None, scope: str = READ, key_required: bool = False, ring=None) -> str:
    access = Access(ring)
    principal = access.identify(request(key), TEAM, public=False, key_required=key_required)
    access.admit(principal, scope)
    return principal.key_id


@pytest.mark.parametrize(
    ("key", "scope", "key_required", "answer"),
    [
        (None, READ, False, "anonymous"),
        (None, READ, True, 401),
        (None, WRITE, True, 401),
        ("team-key", WRITE, True, "env:team"),
        ("team-key", ADMIN, True, "env:team"),
        ("team-key", READ, True, "env:team"),
        ("partner-key", PRICE, True, "env:2"),
        ("partner-key", WRITE, True, 403),
        ("partner-key", ADMIN, True, 403),
        ("read:partner-key", READ, True, 401),
        ("team-key ", WRITE, True, "env:team"),
        ("wrong", READ, False, 401),
        ("", WRITE, True, 401),
        ("tëam-kéy", WRITE, True, 401),
        ("k" * 10_000, READ, True, 401),
        ("team-key\x00", WRITE, True, 401),
        ("dmd_live_" + "a" * 12 + "_" + "b" * 32, PRICE, True, 401),
        ("dmd_test_" + "a" * 12 + "_" + "b" * 32, PRICE, True, 401),
    ],
)
def test_who_may_do_what(key, scope, key_required, answer) -> None:
    if isinstance(answer, str):
        assert check(key, scope, key_required) == answer
        return
    with pytest.raises(HttpProblem) as refused:
        check(key, scope, key_required)
    assert refused.value.status == answer
    if answer == 401:
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert not key or key.strip() not in refused.value.detail


def test_a_partner_key_is_found_by_its_id_and_checked_by_its_secret() -> None:
    key, key_id, found = stored()
    ring = Ring((key_id, found))
    assert len(key) == KEY_LENGTH and key.startswith("dmd_live_")
    assert check(key, PRICE, True, ring) == key_id
    with pytest.raises(HttpProblem) as forbidden:
        check(key, WRITE, True, ring)
    assert forbidden.value.status == 403 and "`write`" in forbidden.value.detail
    wrong = key[:-1] + ("a" if key[-1] != "a" else "b")
    with pytest.raises(HttpProblem) as refused:
        check(wrong, PRICE, True, ring)
    assert refused.value.detail == "the bearer key is not valid"


@pytest.mark.parametrize(
    ("expires", "revoked", "said"), [(1.0, None, "expired"), (None, 1.0, "revoked")]
)
def test_expired_and_revoked_keys_are_named_to_their_holder_only(expires, revoked, said) -> None:
    key, key_id, found = stored(expires=expires, revoked=revoked)
    ring = Ring((key_id, found))
    with pytest.raises(HttpProblem) as refused:
        authenticate(key, ring, TEAM)
    assert refused.value.status == 401 and said in refused.value.detail
    other_secret = key[:-32] + "a" * 32
    with pytest.raises(HttpProblem) as guessed:
        authenticate(other_secret, ring, TEAM)
    assert guessed.value.detail == "the bearer key is not valid"


def test_a_rotated_key_works_until_its_grace_ends() -> None:
    key, key_id, found = stored(revoked=time.time() + 60)
    assert authenticate(key, Ring((key_id, found)), TEAM).key_id == key_id


def test_a_malformed_key_costs_what_a_wrong_secret_costs() -> None:
    key, key_id, found = stored()
    ring = Ring(*(stored()[1:] for _ in range(1000)), (key_id, found))
    wrong = key[:-1] + ("a" if key[-1] != "a" else "b")
    malformed = ["x" * 10_000, "dmd_live_short", "dmd_live_" + "é" * 45, "Bearer", key.upper()]

    def cost(presented: str) -> float:
        times = []
        for _ in range(2000):
            started = time.perf_counter()
            with contextlib.suppress(HttpProblem):
                authenticate(presented, ring, TEAM)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    reference = cost(wrong)
    for presented in malformed:
        assert cost(presented) < 3 * reference + 2e-6, presented[:20]


def test_a_key_list_is_read_as_written() -> None:
    keys = ServiceSettings(api_keys="ci=a,b,read:p=c").bearer_keys()
    assert [(p.key_id, p.scopes, s) for p, s in keys] == [
        ("env:ci", frozenset({ADMIN}), b"a"),
        ("env:2", frozenset({ADMIN}), b"b"),
        ("env:p", frozenset({PRICE, READ}), b"c"),
    ]
    assert ServiceSettings(api_keys="read:,").bearer_keys() == ()


def test_a_key_name_that_is_no_name_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="its name must be"):
        ServiceSettings(api_keys="my team=secret")


def test_other_schemes_are_refused() -> None:
    with pytest.raises(HttpProblem) as refused:
        Access().identify(request("team-key", "Basic"), TEAM, public=False, key_required=True)
    assert refused.value.status == 401
