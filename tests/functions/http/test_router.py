"""The router in process, through werkzeug's test client (functions/http/router.py): what a
client and the journal get, for good and hostile requests."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest
from pydantic import BaseModel, ConfigDict
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from functions.database import IdempotentRequests, make_engine, migrate
from functions.http.responses import json_response
from functions.http.router import Call, Route, Router
from functions.settings import ServiceSettings

KEY = "test-key"


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: float = 1.0


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verbose: bool = False


def settings() -> ServiceSettings:
    return ServiceSettings(api_keys=f"team={KEY}")


@pytest.fixture()
def answers(tmp_path) -> IdempotentRequests:
    engine = make_engine(f"sqlite:///{tmp_path / 'router.db'}")
    migrate(engine)
    return IdempotentRequests(engine)


@pytest.fixture()
def served(answers) -> dict:
    """A router over a few routes, the journal it writes and how often handlers ran."""
    seen = {"journal": [], "made": 0}

    def make(call: Call) -> Response:
        seen["made"] += 1
        return json_response({"made": seen["made"], "name": call.body.name}, 201)

    def big(call: Call) -> Response:
        return json_response({"rows": ["x" * 50] * 200})

    def fail(call: Call) -> Response:
        raise RuntimeError("a bug, with a secret in its message")

    routes = [
        Route("POST", "/v1/things", make, "make", body=Thing, bulk=10, write=True),
        Route(
            "POST",
            "/v1/logged",
            make,
            "logged",
            body=Thing,
            query=Options,
            journal=seen["journal"].append,
        ),
        Route("GET", "/v1/big", big, "big"),
        Route("GET", "/v1/fails", fail, "always fails", journal=seen["journal"].append),
    ]
    router = Router(routes, settings, lambda: answers)
    seen["client"] = Client(Request.application(router))
    return seen


def test_a_failing_handler_answers_a_500_problem_and_is_journaled(served) -> None:
    response = served["client"].get("/v1/fails")
    document = orjson.loads(response.get_data())
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert document["title"] == "Internal error"
    assert "secret" not in response.get_data(as_text=True)
    [entry] = served["journal"]
    assert entry["status"] == 500 and entry["response"] == document
    assert entry["caller"] == "anonymous" and entry["request"]["path"] == "/v1/fails"


def test_a_secret_sent_where_it_does_not_belong_is_never_journaled(served) -> None:
    client = served["client"]
    client.post("/v1/logged?verbose=true&key=s3cret", json={"name": "a"})
    client.post("/v1/logged", json={"name": "a", "api_key": "s3cret"})
    client.post("/v1/logged", json={"name": "a"}, headers={"Authorization": f"Bearer {KEY}"})
    assert "s3cret" not in json.dumps(served["journal"]) and KEY not in json.dumps(
        served["journal"]
    )
    first, second, third = served["journal"]
    assert first["request"]["query"] == {"verbose": "true", "key": "(not kept)"}
    assert second["request"]["body"] == {"name": "a", "api_key": "(not kept)"}
    assert (first["status"], second["status"], third["status"]) == (422, 422, 201)
    assert third["caller"] == "env:team" and third["request"]["body"] == {"name": "a"}


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        (b'{"name": "a", "name": "b"}', ["/name"]),
        (b'{"name":"a","size":1,"size":2}', ["/size"]),
        (b'[{"name": "a"}, {"name": "b", "name": "c"}]', ["/1/name"]),
        (b'{"name": "a\\"", "name": "b"}', ["/name"]),
        (b'{"name" : "a", "name" : "b"}', ["/name"]),
        (b'{"name": {"x": 1, "x": 2}, "size": 1}', ["/name/x"]),
    ],
)
def test_a_key_given_twice_is_refused_not_taken_last(served, body: bytes, pointers) -> None:
    response = served["client"].post(
        "/v1/things",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert [e["field"] for e in response.json["errors"]] == pointers
    assert served["made"] == 0


@pytest.mark.parametrize(
    "body",
    [b'{"name": "a:b\\"c\\":", "size": 2}', b'{"name": "\\"name\\": 1"}', b'{"name": "a"} \n'],
)
def test_strings_that_look_like_keys_are_no_repeated_keys(served, body: bytes) -> None:
    response = served["client"].post(
        "/v1/things",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_gzip_body_is_read_and_a_bad_one_named(served) -> None:
    client, auth = served["client"], {"Authorization": f"Bearer {KEY}"}
    body = gzip.compress(b'{"name": "zipped"}')
    ok = client.post(
        "/v1/things",
        data=body,
        content_type="application/json",
        headers={**auth, "Content-Encoding": "gzip"},
    )
    assert ok.status_code == 201 and ok.json["name"] == "zipped"
    unsaid = client.post("/v1/things", data=body, content_type="application/json", headers=auth)
    assert unsaid.status_code == 400 and "Content-Encoding: gzip" in unsaid.json["detail"]
    broken = client.post(
        "/v1/things",
        data=body[:-9],
        content_type="application/json",
        headers={**auth, "Content-Encoding": "gzip"},
    )
    assert broken.status_code == 400 and broken.json["title"] == "Bad gzip body"
    bomb = gzip.compress(b" " * 9_000_000)
    huge = client.post(
        "/v1/things",
        data=bomb,
        content_type="application/json",
        headers={**auth, "Content-Encoding": "gzip"},
    )
    assert huge.status_code == 413
    brotli = client.post(
        "/v1/things",
        data=b"{}",
        content_type="application/json",
        headers={**auth, "Content-Encoding": "br"},
    )
    assert brotli.status_code == 415 and "gzip" in brotli.json["detail"]
    assert served["made"] == 1


def test_large_answers_are_gzipped_for_clients_that_accept_it(served) -> None:
    client = served["client"]
    plain = client.get("/v1/big")
    zipped = client.get("/v1/big", headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    refused = client.get("/v1/big", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    small = client.get("/v1/fails", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("text/csv", 406),
        ("text/html", 406),
        ("application/json", 200),
        ("*/*", 200),
        ("application/*;q=0.5, text/csv", 200),
        ("text/csv, application/json;q=0", 406),
    ],
)
def test_an_answer_the_client_does_not_accept_is_a_406(served, accept: str, status: int) -> None:
    response = served["client"].get("/v1/big", headers={"Accept": accept})
    assert response.status_code == status
    if status == 406:
        assert response.mimetype == "application/problem+json"


def test_a_path_and_query_too_long_are_a_414_problem(served) -> None:
    response = served["client"].get("/v1/big?x=" + "y" * 20_000)
    assert response.status_code == 414 and response.mimetype == "application/problem+json"


def test_a_retried_post_gets_its_first_answer(served) -> None:
    client = served["client"]
    auth = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": "order-17"}
    first = client.post("/v1/things", json={"name": "a"}, headers=auth)
    again = client.post("/v1/things", json={"name": "a"}, headers=auth)
    assert first.status_code == again.status_code == 201 and served["made"] == 1
    assert again.get_data() == first.get_data() and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/things", json={"name": "b"}, headers=auth)
    assert (
        other.status_code == 422 and other.json["errors"][0]["field"] == "/header/Idempotency-Key"
    )
    new_key = client.post(
        "/v1/things", json={"name": "b"}, headers={**auth, "Idempotency-Key": "order-18"}
    )
    assert new_key.json["made"] == 2
    bad = client.post(
        "/v1/things", json={"name": "c"}, headers={**auth, "Idempotency-Key": "é" * 3}
    )
    assert bad.status_code == 422
    assert (
        client.post(
            "/v1/things", json={"name": 5}, headers={**auth, "Idempotency-Key": "x"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/v1/things", json={"name": "x"}, headers={**auth, "Idempotency-Key": "x"}
        ).status_code
        == 201
    )
    assert served["made"] == 3, "a request refused before its handler ran keeps nothing"
