"""What a careless or hostile client cannot do, through functions-framework on SQLite and on
PostgreSQL: lose another's update, create twice by retrying, sneak a repeated key past
validation, leave its key in a log, read where things are stored, or make one request cost a
fortune."""

from __future__ import annotations

import gzip
import json
import threading

import requests

from ..service_fixtures import KEY, PARTNER_KEY, Stack
from .test_api import SLIP, STONE, _json, _logged, problem

ITEM = {**STONE, "price": 5000}


def test_a_stone_changed_meanwhile_is_not_overwritten(stack: Stack) -> None:
    created = stack.call("POST", "/v1/diamonds", key=KEY, json=ITEM)
    path, etag = created.headers["Location"], created.headers["ETag"]
    assert etag == '"1"' and created.json()["revision"] == 1
    fresh = stack.call("GET", path, headers={"If-None-Match": etag})
    assert fresh.status_code == 304 and fresh.content == b"" and fresh.headers["ETag"] == etag

    changed = stack.call("PATCH", path, key=KEY, json={"price": 5100}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] == '"2"'
    stale = stack.call("PATCH", path, key=KEY, json={"price": 5200}, headers={"If-Match": etag})
    assert "revision 2" in problem(stale, 412)["detail"] and stale.headers["ETag"] == '"2"'
    problem(
        stack.call("PATCH", path, key=KEY, json={"price": 1}, headers={"If-Match": '"bogus"'}), 412
    )
    problem(stack.call("PUT", path, key=KEY, json=ITEM, headers={"If-Match": 'W/"2"'}), 412)
    problem(stack.call("DELETE", path, key=KEY, headers={"If-Match": etag}), 412)
    assert stack.call("GET", path).json()["price"] == 5100
    assert stack.call("GET", path, headers={"If-None-Match": etag}).status_code == 200
    any_revision = stack.call("PUT", path, key=KEY, json=ITEM, headers={"If-Match": "*"})
    assert any_revision.status_code == 200 and any_revision.headers["ETag"] == '"3"'

    answers: list[int] = []
    barrier = threading.Barrier(2)

    def edit(price: int) -> None:
        barrier.wait()
        sent = stack.call(
            "PATCH", path, key=KEY, json={"price": price}, headers={"If-Match": '"3"'}
        )
        answers.append(sent.status_code)

    threads = [threading.Thread(target=edit, args=(p,)) for p in (6000, 7000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 412]
    assert stack.call("DELETE", path, key=KEY, headers={"If-Match": '"4"'}).status_code == 204
    problem(stack.call("PATCH", path, key=KEY, json={"price": 1}, headers={"If-Match": "*"}), 404)


def test_a_retried_post_creates_nothing_twice(stack: Stack) -> None:
    total = stack.call("GET", "/v1/diamonds?limit=1").json()["total"]
    retry = {"Idempotency-Key": "import-2026-12-06-a"}
    first = stack.call("POST", "/v1/diamonds", key=KEY, json=ITEM, headers=retry)
    again = stack.call("POST", "/v1/diamonds", key=KEY, json=ITEM, headers=retry)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert stack.call("GET", "/v1/diamonds?limit=1").json()["total"] == total + 1
    other = stack.call("POST", "/v1/diamonds", key=KEY, json={**ITEM, "price": 5001}, headers=retry)
    assert problem(other, 422, "/header/Idempotency-Key")["title"] == "Idempotency-Key reused"

    answers: list[requests.Response] = []
    barrier = threading.Barrier(8)
    at_once = {"Idempotency-Key": "import-2026-12-06-b"}

    def post() -> None:
        barrier.wait()
        answers.append(stack.call("POST", "/v1/diamonds", key=KEY, json=ITEM, headers=at_once))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(made) == 1 and {a.status_code for a in answers} <= {201, 409}
    assert all(a.headers.get("Retry-After") == "1" for a in answers if a.status_code == 409)
    assert stack.call("GET", "/v1/diamonds?limit=1").json()["total"] == total + 2

    priced = [
        stack.call("POST", "/v1/price", json=STONE, headers={"Idempotency-Key": "quote-9"})
        for _ in range(2)
    ]
    assert priced[0].json() == priced[1].json() and "Idempotent-Replayed" in priced[1].headers


def test_a_key_given_twice_in_a_body_is_refused(stack: Stack) -> None:
    body = json.dumps(STONE)[:-1] + ', "carat": 0.3}'
    sent = stack.call("POST", "/v1/price", data=body, headers={"Content-Type": "application/json"})
    assert problem(sent, 422, "/carat")["title"] == "Repeated keys"
    many = "[" + json.dumps(STONE) + "," + body + "]"
    sent = stack.call("POST", "/v1/price", data=many, headers={"Content-Type": "application/json"})
    assert [e["field"] for e in problem(sent, 422)["errors"]] == ["/1/carat"]


def test_a_key_in_the_query_string_is_never_kept(stack: Stack) -> None:
    stack.call("POST", "/v1/price", json=STONE)
    after = max(r.id for r in _logged(stack.database_url, 0, [200]))
    query = "&".join(f"{k}={v}" for k, v in STONE.items())
    problem(stack.call("GET", f"/v1/price?{query}&key={KEY}"), 422, "/query/key")
    problem(stack.call("POST", f"/v1/price?api_key={KEY}", json=STONE), 422, "/query/api_key")
    problem(stack.call("POST", "/v1/price", json={**STONE, "key": KEY}), 422, "/key")

    def carries_a_key(row) -> bool:
        request = _json(row.request)
        body = request["body"] if isinstance(request["body"], dict) else {}
        return "key" in request["query"] or "api_key" in request["query"] or "key" in body

    # These three requests' entries: an earlier test's 422s may still be arriving after `after`.
    rows = _logged(
        stack.database_url,
        after,
        [422, 422, 422],
        lambda rows: sum(r.status == 422 and carries_a_key(r) for r in rows) >= 3,
    )
    assert KEY not in json.dumps([_json(r.request) for r in rows], default=str)
    assert KEY not in json.dumps([_json(r.response) for r in rows], default=str)


def test_where_things_are_stored_is_shown_to_key_holders_only(stack: Stack) -> None:
    # A stone to train on, whichever of this module's tests ran before on this stack.
    assert stack.call("POST", "/v1/diamonds", key=KEY, json=ITEM).status_code == 201
    run = stack.call("POST", "/v1/retrain", key=KEY, json={"reason": "paths"}).json()
    version = stack.call("GET", "/v1/models").json()["champion"]
    for path in (run["status_url"], f"/v1/models/{version}", "/v1/ingestions", "/v1/runs"):
        anonymous = stack.call("GET", path)
        assert anonymous.status_code == 200
        assert "file://" not in anonymous.text and "gs://" not in anonymous.text, path
    shown = stack.call("GET", run["status_url"], key=PARTNER_KEY).json()
    assert shown["snapshot"].startswith(("file://", "gs://"))
    assert shown["requested_by"] == "env:2", "a caller is known by its key's id"
    assert "job" not in stack.call("GET", run["status_url"]).json()


def test_the_work_of_one_request_is_bounded_and_its_answer_compressed(stack: Stack) -> None:
    many = [STONE] * 10_000
    refused = stack.call("POST", "/v1/price?comparables=20", json=many)
    assert "at most 1,000 per request" in problem(refused, 413, "/query/comparables")["detail"]
    assert stack.call("POST", "/v1/price?comparables=20", json=[STONE] * 50).status_code == 200
    raw = requests.post(
        stack.url("/v1/price"),
        json=many,
        headers={"Accept-Encoding": "gzip"},
        stream=True,
        timeout=120,
    )
    body = raw.raw.read()
    assert raw.headers["Content-Encoding"] == "gzip" and len(body) < 400_000
    assert len(json.loads(gzip.decompress(body))["prices"]) == 10_000

    zipped = gzip.compress(json.dumps([STONE, SLIP]).encode())
    sent = stack.call(
        "POST",
        "/v1/price",
        data=zipped,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    problem(sent, 422, "/1/carat")
    problem(stack.call("POST", "/v1/price", json=STONE, headers={"Accept": "text/csv"}), 406)
