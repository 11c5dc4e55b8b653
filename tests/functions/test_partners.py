"""Partners, their keys, limits and usage, end to end: the functions under functions-framework,
on SQLite and on PostgreSQL, managed through /v1/partners and `diamonds partners|keys|usage`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
import sqlalchemy as sa

from ..service_fixtures import KEY, PARTNER_KEY, Stack
from .test_api import STONE, problem

KEY_FORMAT = re.compile(r"dmd_live_[a-z2-7]{12}_[a-z2-7]{32}")
SEEN_WITHIN = 10.0
"""A change to a key or partner is seen by every instance within this."""


def eventually(check: Callable[[], bool], seconds: float = SEEN_WITHIN + 2) -> float:
    """How long until `check` held (it must, within `seconds`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not within the time allowed"
        time.sleep(0.2)
    return time.monotonic() - started


def add_partner(stack: Stack, name: str, **plan) -> dict:
    body = {"name": name, "contact": f"ops@{name}.example", **plan}
    created = stack.call("POST", "/v1/partners", key=KEY, json=body)
    assert created.status_code == 201, created.text
    return created.json()


def issue(stack: Stack, partner: str, **request) -> str:
    issued = stack.call("POST", f"/v1/partners/{partner}/keys", key=KEY, json=request)
    assert issued.status_code == 201, issued.text
    assert issued.headers["Cache-Control"] == "no-store"
    key = issued.json()["key"]
    assert KEY_FORMAT.fullmatch(key)
    return key


def key_id(key: str) -> str:
    return key.split("_")[2]


def price(stack: Stack, key: str, stones: int = 1) -> requests.Response:
    body = STONE if stones == 1 else [STONE] * stones
    return stack.call("POST", "/v1/price", key=key, json=body)


def refused_with(stack: Stack, key: str, said: str) -> Callable[[], bool]:
    def check() -> bool:
        answer = price(stack, key)
        return answer.status_code == 401 and said in answer.json()["detail"]

    return check


def test_only_an_admin_key_manages_partners(stack: Stack) -> None:
    body = {"name": "nobody", "contact": "x@example.com"}
    problem(stack.call("POST", "/v1/partners", json=body), 401)
    problem(stack.call("GET", "/v1/partners"), 401)
    assert "`admin`" in problem(stack.call("GET", "/v1/partners", key=PARTNER_KEY), 403)["detail"]
    add_partner(stack, "acme", scopes=["price"])
    again = stack.call("POST", "/v1/partners", key=KEY, json={**body, "name": "acme"})
    problem(again, 409)
    problem(stack.call("POST", "/v1/partners/nobody/keys", key=KEY, json={}), 404)
    problem(stack.call("GET", "/v1/partners/nobody", key=KEY), 404)
    wider = stack.call("POST", "/v1/partners/acme/keys", key=KEY, json={"scopes": ["write"]})
    problem(wider, 422, "/scopes")
    partner_key = issue(stack, "acme")
    assert "`admin`" in problem(stack.call("GET", "/v1/partners", key=partner_key), 403)["detail"]


def test_a_partner_prices_with_its_key_and_reads_its_usage(stack: Stack) -> None:
    add_partner(stack, "brill", scopes=["price", "read"], requests_per_minute=1000)
    key = issue(stack, "brill")
    started = datetime.now(UTC)
    one = price(stack, key)
    assert one.status_code == 200, one.text
    assert one.headers["RateLimit-Policy"] == '"minute";q=1000;w=60'
    assert re.fullmatch(r'"minute";r=999;t=\d+', one.headers["RateLimit"])
    assert price(stack, key, 3).status_code == 200
    assert stack.call("GET", "/v1/diamonds", key=key).status_code == 200
    write = stack.call("POST", "/v1/diamonds", key=key, json={**STONE, "price": 5000})
    assert "`write`" in problem(write, 403)["detail"]
    assert write.headers["RateLimit-Policy"]
    problem(stack.call("GET", "/v1/usage?partner=acme", key=key), 403)

    def counted() -> dict:
        answer = stack.call("GET", "/v1/usage", key=key)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def routes() -> dict[str, dict]:
        return {row["route"]: row for row in counted()["days"]}

    asked = {"POST /v1/price": 2, "GET /v1/diamonds": 1, "POST /v1/diamonds": 1}
    eventually(lambda: {r: routes().get(r, {}).get("requests") for r in asked} == asked)
    report = counted()
    (total,) = report["partners"]
    assert total["partner"] == "brill" and total["stones"] == 4
    assert total["stones_per_month"] == 100_000 and total["p50_ms"] is not None
    found = routes()
    assert found["POST /v1/price"]["stones"] == 4
    assert found["POST /v1/diamonds"]["refused"] == 1
    assert found["GET /v1/usage"]["refused"] == 1
    every = stack.call("GET", "/v1/usage?partner=brill", key=KEY).json()
    assert {row["partner"] for row in every["days"]} == {"brill"}

    with stack.engine().connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT partner, key_id, caller FROM prediction_log WHERE created_at >= :t"
                " AND (partner = 'brill' OR key_id = :id OR caller = :id)"
            ),
            # Rows of this partner and key: the last second may hold another test's partners.
            {"t": started - timedelta(seconds=1), "id": key_id(key)},
        ).all()
        used = connection.execute(
            sa.text("SELECT last_used_at FROM api_keys WHERE id = :id"), {"id": key_id(key)}
        ).scalar()
        everything = " ".join(
            str(row)
            for table in ("prediction_log", "api_keys", "usage", "partners")
            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
        )
    assert {(r.partner, r.key_id, r.caller) for r in rows} == {("brill", key_id(key), key_id(key))}
    assert used is not None
    assert key.split("_")[3] not in everything


def test_a_revoked_key_stops_on_every_instance(stack: Stack) -> None:
    add_partner(stack, "carat-co")
    key = issue(stack, "carat-co")
    assert price(stack, key).status_code == 200
    listed = stack.call("GET", "/v1/partners/carat-co", key=KEY).json()
    assert [k["id"] for k in listed["keys"]] == [key_id(key)]
    assert key.split("_")[3] not in str(listed)
    revoked = stack.call("DELETE", f"/v1/partners/carat-co/keys/{key_id(key)}", key=KEY)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    took = eventually(refused_with(stack, key, "revoked"))
    assert took <= SEEN_WITHIN
    problem(stack.call("DELETE", f"/v1/partners/acme/keys/{key_id(key)}", key=KEY), 404)


def test_a_rotated_key_keeps_working_for_its_grace(stack: Stack) -> None:
    add_partner(stack, "dunes")
    old = issue(stack, "dunes")
    path = f"/v1/partners/dunes/keys/{key_id(old)}/rotate"
    graced = stack.call("POST", path, key=KEY, json={})
    assert graced.status_code == 201, graced.text
    new = graced.json()["key"]
    eventually(lambda: price(stack, new).status_code == 200)
    assert price(stack, old).status_code == 200
    problem(stack.call("POST", path, key=KEY, json={"grace_hours": -1}), 422, "/grace_hours")
    rotated = stack.call(
        "POST", f"/v1/partners/dunes/keys/{key_id(new)}/rotate", key=KEY, json={"grace_hours": 0}
    )
    assert rotated.status_code == 201
    eventually(refused_with(stack, new, "revoked"))
    assert price(stack, old).status_code == 200


def test_expired_keys_and_deleted_partners_stop(stack: Stack) -> None:
    add_partner(stack, "emerald")
    key, other = issue(stack, "emerald"), issue(stack, "emerald")
    assert price(stack, key).status_code == 200
    past = datetime.now(UTC) - timedelta(seconds=1)
    with stack.engine().begin() as connection:
        connection.execute(
            sa.text("UPDATE api_keys SET expires_at = :t, changed_at = :now WHERE id = :id"),
            {"t": past, "now": datetime.now(UTC), "id": key_id(key)},
        )
    eventually(refused_with(stack, key, "expired"))
    assert price(stack, other).status_code == 200
    deleted = stack.call("DELETE", "/v1/partners/emerald", key=KEY)
    assert deleted.status_code == 200 and deleted.json()["deleted_at"]
    eventually(refused_with(stack, other, "not valid"))
    problem(stack.call("POST", "/v1/partners/emerald/keys", key=KEY, json={}), 404)


def test_the_last_admin_key_cannot_be_revoked(stack: Stack) -> None:
    add_partner(stack, "ops-team", scopes=["admin"])
    first = issue(stack, "ops-team")
    assert stack.call("GET", "/v1/partners", key=first).status_code == 200
    last = stack.call("DELETE", f"/v1/partners/ops-team/keys/{key_id(first)}", key=first)
    assert "last admin key" in problem(last, 409)["detail"]
    second = issue(stack, "ops-team")
    revoked = stack.call("DELETE", f"/v1/partners/ops-team/keys/{key_id(first)}", key=second)
    assert revoked.status_code == 200


def test_a_partner_is_held_to_its_minute_and_its_month(stack: Stack) -> None:
    add_partner(stack, "fancy", requests_per_minute=5, stones_per_month=1000)
    key = issue(stack, "fancy")
    answers = [price(stack, key) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    limited = problem(answers[-1], 429)
    assert "5 requests a minute" in limited["detail"]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].headers["RateLimit"].startswith('"minute";r=0;')

    add_partner(stack, "gems", stones_per_month=5)
    key = issue(stack, "gems")
    assert price(stack, key, 3).status_code == 200
    crossing = price(stack, key, 3)
    assert "has 2 left" in problem(crossing, 429)["detail"]
    assert price(stack, key, 2).status_code == 200


def test_bad_keys_from_one_address_are_refused_a_while(stack: Stack) -> None:
    address = {"X-Forwarded-For": "203.0.113.9, 127.0.0.1"}
    wrong = "dmd_live_" + "a" * 12 + "_" + "b" * 32
    statuses = [
        stack.call("GET", "/v1/usage", key=wrong, headers=dict(address)).status_code
        for _ in range(31)
    ]
    assert statuses == [401] * 30 + [429]
    assert stack.call("GET", "/v1/usage", key=KEY).status_code == 200


def diamonds(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    command = Path(sys.executable).with_name("diamonds")
    environment = {**os.environ, "DIAMONDS_DATABASE_URL": stack.database_url}
    return subprocess.run(
        [str(command), *args], env=environment, capture_output=True, text=True, timeout=120
    )


def test_the_command_line_manages_partners_keys_and_usage(stack: Stack) -> None:
    added = diamonds(stack, "partners", "add", "hearts", "--contact", "a@hearts.example")
    assert added.returncode == 0, added.stderr
    assert diamonds(stack, "partners", "add", "hearts", "--contact", "x").returncode == 2
    assert diamonds(stack, "partners", "add", "Bad Name", "--contact", "x").returncode == 2
    assert "hearts" in diamonds(stack, "partners", "list").stdout
    assert diamonds(stack, "keys", "issue", "nobody").returncode == 2
    issued = diamonds(stack, "keys", "issue", "hearts", "--expires-in-days", "30")
    assert issued.returncode == 0, issued.stderr
    (key,) = KEY_FORMAT.findall(issued.stdout)
    assert price(stack, key).status_code == 200
    rotated = diamonds(stack, "keys", "rotate", key_id(key), "--grace-hours", "1")
    (new,) = KEY_FORMAT.findall(rotated.stdout)
    shown = diamonds(stack, "partners", "show", "hearts").stdout
    assert key_id(key) in shown and key_id(new) in shown and key not in shown
    assert diamonds(stack, "keys", "revoke", key_id(new)).returncode == 0
    assert "revoked" in diamonds(stack, "keys", "list", "--partner", "hearts").stdout
    month = datetime.now(UTC).strftime("%Y-%m")
    eventually(lambda: "hearts," in diamonds(stack, "usage", "--month", month, "--csv").stdout)
    invoice = diamonds(stack, "usage", "--month", month, "--csv").stdout.splitlines()
    assert invoice[0] == "partner,day,route,requests,stones,refused,errors,p50_ms,p95_ms"
    assert any(
        line.startswith("hearts,") and ",POST /v1/price,1,1,0,0," in line for line in invoice
    )
    assert diamonds(stack, "usage", "--month", "2026-13").returncode == 2
    assert diamonds(stack, "partners", "delete", "hearts").returncode == 0
