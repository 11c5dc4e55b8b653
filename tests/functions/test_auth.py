"""Bearer keys: write keys, read-only (partner) keys, and reads that may need a key."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from functions.routing import HttpProblem, authorize
from functions.settings import ServiceSettings


def request(key: str | None = None, scheme: str = "Bearer") -> Request:
    headers = {"Authorization": f"{scheme} {key}"} if key is not None else {}
    return Request(EnvironBuilder(path="/v1/price", headers=headers).get_environ())


def settings(**values) -> ServiceSettings:
    return ServiceSettings(api_keys="team-key,read:partner-key", **values)


@pytest.mark.parametrize(
    ("key", "write", "read_requires_key", "allowed"),
    [
        (None, False, False, True),
        (None, False, True, False),
        (None, True, False, False),
        ("team-key", True, False, True),
        ("team-key", False, True, True),
        ("partner-key", False, True, True),
        ("partner-key", True, False, False),
        ("read:partner-key", False, True, False),
        ("team-key ", True, False, True),
        ("wrong", False, False, False),
        ("", True, False, False),
    ],
)
def test_who_may_do_what(key, write, read_requires_key, allowed) -> None:
    config = settings(read_requires_key=read_requires_key)
    if allowed:
        caller = authorize(request(key), config, write=write, public=False)
        assert caller == "anonymous" or (caller.startswith("key:") and key.strip() not in caller)
    else:
        with pytest.raises(HttpProblem) as refused:
            authorize(request(key), config, write=write, public=False)
        assert refused.value.status == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_other_schemes_are_refused() -> None:
    with pytest.raises(HttpProblem):
        authorize(request("team-key", scheme="Basic"), settings(), write=True, public=False)


def test_no_configured_key_means_no_writes() -> None:
    with pytest.raises(HttpProblem):
        authorize(request(""), ServiceSettings(), write=True, public=False)


@pytest.mark.parametrize(
    ("keys", "writers", "readers"),
    [
        ("read:abc", [], ["abc"]),
        (" team-key , read: partner ,,", ["team-key"], ["team-key", "partner"]),
        ("read:,", [], []),
        ("a,b,read:c", ["a", "b"], ["a", "b", "c"]),
    ],
)
def test_a_key_list_is_read_as_written(keys: str, writers: list, readers: list) -> None:
    config = ServiceSettings(api_keys=keys)
    assert (config.keys(write=True), config.keys(write=False)) == (writers, readers)
