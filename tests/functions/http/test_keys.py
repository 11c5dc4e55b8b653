"""Bearer keys (functions/http/keys.py): who may read, price and write, and by what id a caller
is known: never by its secret or a hash of it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from functions.http.keys import Key, authorize, parse_keys
from functions.http.problems import HttpProblem
from functions.settings import ServiceSettings

KEYS = parse_keys("team=team-key,read:partner-key")


def request(key: str | None = None, scheme: str = "Bearer") -> Request:
    headers = {"Authorization": f"{scheme} {key}"} if key is not None else {}
    return Request(EnvironBuilder(path="/v1/price", headers=headers).get_environ())


def check(key: str | None, write: bool = False, read_requires_key: bool = False) -> str:
    return authorize(
        request(key), KEYS, write=write, public=False, read_requires_key=read_requires_key
    )


@pytest.mark.parametrize(
    ("key", "write", "read_requires_key", "answer"),
    [
        (None, False, False, "anonymous"),
        (None, False, True, 401),
        (None, True, False, 401),
        ("team-key", True, False, "env:team"),
        ("team-key", False, True, "env:team"),
        ("partner-key", False, True, "env:2"),
        ("partner-key", True, False, 403),
        ("read:partner-key", False, True, 401),
        ("team-key ", True, False, "env:team"),
        ("wrong", False, False, 401),
        ("", True, False, 401),
        ("tëam-kéy", True, False, 401),
        ("k" * 10_000, False, True, 401),
        ("team-key\x00", True, False, 401),
    ],
)
def test_who_may_do_what(key, write, read_requires_key, answer) -> None:
    if isinstance(answer, str):
        assert check(key, write, read_requires_key) == answer
        return
    with pytest.raises(HttpProblem) as refused:
        check(key, write, read_requires_key)
    assert refused.value.status == answer
    if answer == 401:
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert (key or "") not in refused.value.detail or not key


def test_other_schemes_are_refused() -> None:
    with pytest.raises(HttpProblem):
        authorize(
            request("team-key", "Basic"), KEYS, write=True, public=False, read_requires_key=False
        )


def test_no_configured_key_means_no_writes() -> None:
    with pytest.raises(HttpProblem):
        authorize(request(""), (), write=True, public=False, read_requires_key=False)


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("read:abc", [Key("env:1", b"abc", False)]),
        (
            " team-key , read: partner ,,",
            [Key("env:1", b"team-key", True), Key("env:2", b"partner", False)],
        ),
        ("read:,", []),
        (
            "ci=a,b,read:p=c",
            [Key("env:ci", b"a", True), Key("env:2", b"b", True), Key("env:p", b"c", False)],
        ),
    ],
)
def test_a_key_list_is_read_as_written(text: str, keys: list) -> None:
    assert list(ServiceSettings(api_keys=text).bearer_keys()) == keys


def test_a_key_name_that_is_no_name_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="its name must be"):
        ServiceSettings(api_keys="my team=secret")
