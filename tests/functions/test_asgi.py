"""The pricing function on functions-framework's async mode answers every request as the
synchronous router does: the framework's own Starlette app, in process, beside the router
served on werkzeug's test client."""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request

from functions.deployables import http_function
from functions.instance import Instance
from functions.settings import ServiceSettings

from ..service_fixtures import KEY, copy_models
from .test_api import JSON, STONE

with warnings.catch_warnings():  # it would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

MAIN = Path(__file__).parents[2] / "functions" / "main.py"
LIMIT = 100_000


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory, trained_models: Path) -> dict:
    from functions.database import migrate

    root = tmp_path_factory.mktemp("asgi")
    copy_models(trained_models, (root / "models").as_uri())
    environment = {
        "DIAMONDS_MODELS_ROOT": (root / "models").as_uri(),
        "DIAMONDS_DATA_ROOT": (root / "data").as_uri(),
        "DIAMONDS_DATABASE_URL": f"sqlite:///{root / 'db.sqlite'}",
        "DIAMONDS_API_KEYS": KEY,
        "DIAMONDS_MAX_BODY_BYTES": str(LIMIT),
        "DIAMONDS_CHAMPION_TTL_SECONDS": "60",
    }
    migrate(environment["DIAMONDS_DATABASE_URL"])
    return environment


@pytest.fixture(scope="module")
def modes(environment: dict) -> Iterator[tuple[TestClient, Client]]:
    """(the async function as the framework serves it, the synchronous router)."""
    from functions_framework import create_app

    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        app = create_app("pricing", str(MAIN))
        handler = http_function(Instance(ServiceSettings.from_environment()), "pricing")

    def wsgi(environ, start_response):
        return handler(Request(environ))(environ, start_response)

    with TestClient(app) as client:
        yield client, Client(wsgi)


def both(modes, method: str, path: str, data: bytes | None = None, headers=None):
    """The async answer, checked against the synchronous one: status, headers, body."""
    client, reference = modes
    headers = {"Accept-Encoding": "identity", **(headers or {})}
    sent = {"content": data} if data is not None else {}
    got = client.request(method, path, headers=headers, **sent)
    want = reference.open(path, method=method, data=data, headers=headers)
    assert got.status_code == want.status_code, got.text
    for header in ("Content-Type", "Content-Encoding", "Vary", "Allow", "Retry-After"):
        assert got.headers.get(header) == want.headers.get(header), header
    wanted = want.get_data()
    if want.headers.get("Content-Encoding") == "gzip":
        wanted = gzip.decompress(wanted)
    assert got.content == wanted, (got.content[:300], wanted[:300])
    return got


def problem(response, status: int, title: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["title"] == title


def test_a_stone_is_priced_the_same(modes) -> None:
    body = orjson.dumps(STONE)
    both(modes, "POST", "/v1/price", body, JSON)
    got = both(modes, "POST", "/v1/price?explain=true", body, JSON)
    assert got.json()["explanation"]["factors"]
    both(modes, "POST", "/v1/price", orjson.dumps([STONE] * 50), JSON)
    both(modes, "GET", "/v1/price?" + "&".join(f"{k}={v}" for k, v in STONE.items()))


def test_a_worker_hands_the_interpreter_over_within_the_switch_interval(modes) -> None:
    import sys

    from functions.http.asgi import SWITCH_INTERVAL

    client, _ = modes
    assert client.post("/v1/price", content=orjson.dumps(STONE), headers=JSON).status_code == 200
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)


def test_the_api_document_and_the_page_are_the_same(modes) -> None:
    for path in ("/v1/openapi.json", "/v1/docs", "/", "/healthz", "/v1/nowhere"):
        both(modes, "GET", path)


@pytest.mark.parametrize(
    ("data", "headers", "status", "title"),
    [
        pytest.param(b"", JSON, 400, "Empty body", id="empty"),
        pytest.param(b" \n", JSON, 400, "Empty body", id="blank"),
        pytest.param(b"{not json", JSON, 400, "Malformed JSON", id="malformed"),
        pytest.param(b"\xff{}", JSON, 400, "Bad encoding", id="not-utf8"),
        pytest.param(
            gzip.compress(orjson.dumps(STONE), mtime=0),
            JSON,
            400,
            "Bad encoding",
            id="gzip-undeclared",
        ),
        pytest.param(
            b"carat=1", {"Content-Type": "text/plain"}, 415, "Unsupported media type", id="text"
        ),
        pytest.param(b'{"carat": 1, "carat": 2}', JSON, 422, "Repeated keys", id="repeated-key"),
        pytest.param(
            orjson.dumps([STONE] * 10_001), JSON, 413, "Body too large", id="too-many-stones"
        ),
        pytest.param(b"x" * (LIMIT + 1), JSON, 413, "Body too large", id="too-many-bytes"),
        pytest.param(
            gzip.compress(b" " * (LIMIT * 5), mtime=0),
            {**JSON, "Content-Encoding": "gzip"},
            413,
            "Body too large",
            id="gzip-too-large-unzipped",
        ),
        pytest.param(
            gzip.compress(orjson.dumps(STONE), mtime=0)[:-9],
            {**JSON, "Content-Encoding": "gzip"},
            400,
            "Bad gzip body",
            id="gzip-truncated",
        ),
        pytest.param(
            b"not gzip", {**JSON, "Content-Encoding": "gzip"}, 400, "Bad gzip body", id="not-gzip"
        ),
        pytest.param(
            b"{}",
            {**JSON, "Content-Encoding": "br"},
            415,
            "Unsupported content encoding",
            id="brotli",
        ),
        pytest.param(b"1", JSON, 422, "Invalid input", id="not-a-stone"),
    ],
)
def test_hostile_bodies_get_the_same_problem(modes, data, headers, status, title) -> None:
    problem(both(modes, "POST", "/v1/price", data, headers), status, title)


def test_a_gzip_body_is_priced(modes) -> None:
    data = gzip.compress(orjson.dumps([STONE] * 3))
    got = both(modes, "POST", "/v1/price", data, {**JSON, "Content-Encoding": "gzip"})
    assert len(got.json()["prices"]) == 3


def test_a_body_sent_in_chunks_is_read_to_the_limit_only(modes) -> None:
    client, _ = modes
    chunks = (b"[" + b" " * 10_000 for _ in range(100))
    problem(client.post("/v1/price", content=chunks, headers=JSON), 413, "Body too large")
    whole = orjson.dumps(STONE)
    priced = client.post("/v1/price", content=(whole[i : i + 7] for i in range(0, len(whole), 7)))
    assert priced.status_code == 200, priced.text


def test_a_large_answer_is_gzipped_when_accepted(modes) -> None:
    data = orjson.dumps([STONE] * 200)
    got = both(modes, "POST", "/v1/price", data, {**JSON, "Accept-Encoding": "gzip"})
    assert got.headers["Content-Encoding"] == "gzip" and got.headers["Vary"] == "Accept-Encoding"


def test_refusals_of_the_framework_are_problems_too(modes) -> None:
    client, _ = modes
    problem(client.get("/robots.txt"), 404, "Not Found")
    problem(client.get("/favicon.ico"), 404, "Not Found")
    problem(client.get("/line%0Abreak"), 404, "Not Found")
    problem(client.request("TRACE", "/v1/price"), 405, "Method Not Allowed")


def test_a_target_too_long_and_a_method_not_allowed(modes) -> None:
    problem(both(modes, "GET", "/v1/price?x=" + "y" * 20_000), 414, "URI too long")
    got = both(modes, "DELETE", "/v1/price")
    problem(got, 405, "Method not allowed")
    assert got.headers["Allow"] == "GET, HEAD, POST"


def test_keys_and_idempotency_are_the_same(modes) -> None:
    both(modes, "POST", "/v1/price", b"{}", {**JSON, "Authorization": "Bearer wrong"})
    keyed = {**JSON, "Authorization": f"Bearer {KEY}", "Idempotency-Key": "asgi-1"}
    client, _ = modes
    first = client.post("/v1/price", content=orjson.dumps(STONE), headers=keyed)
    again = client.post("/v1/price", content=orjson.dumps(STONE), headers=keyed)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content
    other = client.post("/v1/price", content=orjson.dumps([STONE]), headers=keyed)
    assert other.status_code == 422


def test_a_key_is_priced_on_the_loop_only_when_telling_it_needs_no_database(lane) -> None:
    """The first partner's key an instance sees reads the keys from the database, and a bad
    key looks for keys issued since: those requests are served on a thread, never on the
    event loop."""
    from werkzeug.test import EnvironBuilder

    from functions.endpoints.pricing import quick_pricing

    *_, instance = lane
    instance.partners.add("asgi-quick", "ops@quick.test", 0, 0, ["price"])
    _, partner = instance.partners.issue("asgi-quick")
    quick = quick_pricing(instance)

    def request(key: str) -> Request:
        headers = {"Authorization": f"Bearer {key}"}
        return EnvironBuilder(
            path="/v1/price", method="POST", json=[STONE], headers=headers
        ).get_request()

    assert quick(request(KEY)) and not quick(request(partner))
    instance.access.keyring.find("none-such-id")
    assert quick(request(partner))
    assert not quick(request("dmd_live_abcdefghijkl_" + "a" * 32))
    assert not quick(request("not-a-key"))


def test_a_second_sigterm_while_stopping_does_not_stop_again() -> None:
    """gunicorn's master passes SIGTERM on to a worker that got it already: the second one,
    arriving while the prediction log is written, must not write it again (its lock would wait
    for itself), only reach uvicorn's handler."""
    import os
    import signal

    from functions.http.asgi import on_termination

    calls: list[str] = []
    before = signal.getsignal(signal.SIGTERM)

    def stopping() -> None:
        calls.append("stopping")
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, lambda *_: calls.append("uvicorn"))
        on_termination(stopping)
        os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert calls == ["stopping", "uvicorn", "uvicorn"]


class Recorded:
    """A prediction log that keeps what it is handed."""

    def __init__(self) -> None:
        self.entries: list[dict] = []

    def submit(self, entry: dict) -> None:
        self.entries.append(entry)


@pytest.fixture
def lane(environment: dict, monkeypatch: pytest.MonkeyPatch):
    """(the express lane, the router, the log both journal to, their instance), the champion
    loaded."""
    from functions.endpoints.pricing import express_pricing

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    instance = Instance(ServiceSettings.from_environment())
    instance._made["prediction_log"] = log = Recorded()
    router = http_function(instance, "pricing")
    instance.pricer.price([])
    return express_pricing(instance), router, log, instance


def scope(headers: dict[str, str], query: str = "", method: str = "POST") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": "/v1/price",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


def unvarying(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in ("latency_ms", "created_at")}


def test_the_express_lane_answers_and_journals_as_the_router_does(lane) -> None:
    from werkzeug.test import EnvironBuilder

    express, router, log, _ = lane
    body = orjson.dumps(STONE)
    for headers in (
        JSON,
        {**JSON, "Accept": "*/*"},
        {**JSON, "Accept": "application/json"},
        {**JSON, "Authorization": f"Bearer {KEY}", "X-Forwarded-For": "198.51.100.7, 10.0.0.1"},
    ):
        answer = express(scope(headers), body)
        assert answer is not None
        request = EnvironBuilder(path="/v1/price", method="POST", data=body, headers=headers)
        want = router(request.get_request())
        assert (answer.status_code, answer.body) == (want.status_code, want.get_data())
        assert answer.headers["content-type"] == want.headers["Content-Type"]
        express_entry, router_entry = log.entries[-2:]
        assert unvarying(express_entry) == unvarying(router_entry)
        assert express_entry["priced"][1] == [orjson.loads(answer.body)["price"]]


@pytest.mark.parametrize(
    ("headers", "query", "body"),
    [
        ({**JSON, "Authorization": "Bearer not-a-key"}, "", STONE),
        ({**JSON, "Authorization": "Bearer dmd_live_abcdefghijkl_" + "a" * 32}, "", STONE),
        ({**JSON, "Authorization": f"Basic {KEY}"}, "", STONE),
        ({**JSON, "Authorization": "Bearer"}, "", STONE),
        ({**JSON, "Idempotency-Key": "once"}, "", STONE),
        ({**JSON, "Content-Encoding": "identity"}, "", STONE),
        ({**JSON, "Accept": "text/csv"}, "", STONE),
        ({"Content-Type": "application/json; charset=utf-8"}, "", STONE),
        ({"Content-Type": "text/plain"}, "", STONE),
        ({}, "", STONE),
        (JSON, "explain=true", STONE),
        (JSON, "", [STONE]),
        (JSON, "", {**STONE, "carat": -1}),
        (JSON, "", {**STONE, "carat": "1"}),
        (JSON, "", {**STONE, "x": 60.0}),
        (JSON, "", {**STONE, "colour": "E"}),
        (JSON, "", {k: v for k, v in STONE.items() if k != "cut"}),
        (JSON, "", b'{"carat": 1, "carat": 2}'),
        (JSON, "", b"{not json"),
        (JSON, "", b"\xff{}"),
        (JSON, "", b"NaN"),
        (JSON, "", b""),
    ],
)
def test_whatever_else_the_express_lane_leaves_to_the_router(lane, headers, query, body) -> None:
    express, _, log, _ = lane
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    assert express(scope(headers, query), data) is None
    assert express(scope(JSON, method="PUT"), orjson.dumps(STONE)) is None
    twice = scope(JSON)
    twice["headers"] += twice["headers"]
    assert express(twice, orjson.dumps(STONE)) is None
    assert log.entries == []


def test_where_pricing_needs_a_key_the_express_lane_leaves_calls_without_one_to_the_router(
    environment: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.endpoints.pricing import express_pricing

    for name, value in {**environment, "DIAMONDS_READ_REQUIRES_KEY": "true"}.items():
        monkeypatch.setenv(name, value)
    instance = Instance(ServiceSettings.from_environment())
    instance._made["prediction_log"] = Recorded()
    instance.pricer.price([])
    express = express_pricing(instance)
    assert express(scope(JSON), orjson.dumps(STONE)) is None
    keyed = express(scope({**JSON, "Authorization": f"Bearer {KEY}"}), orjson.dumps(STONE))
    assert keyed is not None and keyed.status_code == 200


def test_a_partner_is_limited_counted_and_journaled_in_the_express_lane_as_in_the_router(
    lane,
) -> None:
    """A partner's key, once the keys were read: priced with its RateLimit headers, journaled
    with its partner; its month spent once the minute counted the request, the lane answers
    the router's 429 itself (a second pass through the router would count the minute twice)."""
    from werkzeug.test import EnvironBuilder

    express, router, log, instance = lane
    instance.partners.add("asgi-acme", "ops@acme.test", 100, 1, ["price"])
    _, key = instance.partners.issue("asgi-acme")
    headers = {**JSON, "Authorization": f"Bearer {key}"}
    body = orjson.dumps(STONE)
    assert express(scope(headers), body) is None  # the keys were not read yet
    instance.access.keyring.find("none-such-id")
    priced = express(scope(headers), body)
    assert priced is not None and priced.status_code == 200
    assert priced.headers["RateLimit"].startswith('"minute";r=99;')
    assert (log.entries[-1]["partner"], log.entries[-1]["status"]) == ("asgi-acme", 200)
    refused = express(scope(headers), body)
    assert refused is not None and refused.status_code == 429
    assert refused.headers["RateLimit"].startswith('"minute";r=98;')
    request = EnvironBuilder(path="/v1/price", method="POST", data=body, headers=headers)
    want = router(request.get_request())
    assert want.headers["RateLimit"].startswith('"minute";r=97;')
    assert orjson.loads(refused.body) == want.get_json()
    assert refused.headers["Retry-After"] == want.headers["Retry-After"]
    lane_entry, router_entry = log.entries[-2:]
    assert unvarying(lane_entry) == unvarying(router_entry)
    assert (lane_entry["status"], lane_entry["partner"]) == (429, "asgi-acme")
