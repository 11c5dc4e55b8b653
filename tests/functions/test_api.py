"""Every function through functions-framework over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable

import pytest
import requests
import sqlalchemy as sa

from ..service_fixtures import (
    KEY,
    PARTNER_KEY,
    Stack,
    free_port,
    start_function,
    wait_until_healthy,
)

STONE = {
    "carat": 1.01,
    "cut": "Ideal",
    "color": "E",
    "clarity": "VS1",
    "depth": 61.5,
    "table": 57,
    "x": 6.44,
    "y": 6.47,
    "z": 3.97,
}
PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    if field is not None:
        assert any(e["field"].endswith(field) for e in body["errors"]), body
    return body


# -- pricing ---------------------------------------------------------------------------------
def test_price_one_stone(stack: Stack) -> None:
    response = stack.call("POST", "/v1/price", json=STONE)
    assert response.status_code == 200
    body = response.json()
    assert body["interval"]["low"] < body["price"] < body["interval"]["high"]
    assert body["interval"]["coverage"] == 0.9 and body["model_version"]
    assert "explanation" not in body


def test_explanation_multiplies_back_to_the_price(stack: Stack) -> None:
    body = stack.call("POST", "/v1/price?explain=true", json=STONE).json()
    explanation = body["explanation"]
    factors = {f["characteristic"]: f for f in explanation["factors"]}
    assert list(factors) == ["carat", "cut", "color", "clarity", "proportions"]
    assert factors["clarity"]["label"] == "clarity VS1"
    product = explanation["base_price"] * math.prod(f["factor"] for f in factors.values())
    assert product == pytest.approx(body["price"], rel=1e-9)
    assert "clarity VS1: ×" in explanation["text"]


def test_price_by_query_string(stack: Stack) -> None:
    query = "&".join(f"{k}={v}" for k, v in STONE.items())
    by_query = stack.call("GET", f"/v1/price?{query}").json()
    by_body = stack.call("POST", "/v1/price", json=STONE).json()
    assert by_query["price"] == pytest.approx(by_body["price"])


def test_price_a_list_and_the_limit(stack: Stack) -> None:
    body = stack.call(
        "POST", "/v1/price", json=[STONE, {**STONE, "carat": 1.2, "x": 6.8, "y": 6.83, "z": 4.2}]
    ).json()
    assert len(body["prices"]) == 2 and body["prices"][1]["price"] > body["prices"][0]["price"]
    assert len(stack.call("POST", "/v1/price", json=[STONE] * 10_000).json()["prices"]) == 10_000
    problem(stack.call("POST", "/v1/price", json=[STONE] * 10_001), 413)
    problem(stack.call("POST", "/v1/price", json=[]), 422)


def test_comparables_are_same_grades_nearest_carat(stack: Stack) -> None:
    stones = [{**STONE, "carat": c, "price": p} for c, p in ((0.9, 5000), (1.0, 6000), (1.3, 9000))]
    stones.append({**STONE, "cut": "Good", "price": 4000.0})
    assert stack.call("POST", "/v1/diamonds", key=KEY, json=stones).status_code == 201
    body = stack.call("POST", "/v1/price?comparables=2", json=STONE).json()
    # This module's other tests add stones of these grades too, as many as ran before on this
    # stack: the nearest two are found among all the inventory holds.
    grades = "&".join(f"{k}={STONE[k]}" for k in ("cut", "color", "clarity"))
    listed = stack.call("GET", f"/v1/diamonds?{grades}&limit=1000").json()
    assert listed["next_cursor"] is None
    carats = [s["carat"] for s in listed["items"] if s["price"] is not None]
    assert {0.9, 1.0, 1.3} <= set(carats)
    nearest = sorted(carats, key=lambda carat: (abs(carat - STONE["carat"]), carat))[:2]
    assert [c["carat"] for c in body["comparables"]] == nearest
    assert all(
        (c["cut"], c["color"], c["clarity"]) == ("Ideal", "E", "VS1") for c in body["comparables"]
    )


@pytest.mark.parametrize(
    ("stone", "status", "field"),
    [
        ({**STONE, "y": 58.9, "carat": 2.0}, 422, "carat"),  # the public data's typing slip
        ({**STONE, "depth": 44.0}, 422, "depth"),
        ({**STONE, "carat": 9.0, "x": 13.3, "y": 13.3, "z": 8.2}, 422, "carat"),  # beyond training
        ({**STONE, "carat": -1}, 422, "carat"),
        ({**STONE, "carat": 1e300}, 422, "carat"),
        ({**STONE, "carat": "1.0"}, 422, "carat"),
        ({**STONE, "carat": True}, 422, "carat"),
        ({**STONE, "carat": None}, 422, "carat"),
        ({**STONE, "cut": "Superb"}, 422, "cut"),
        ({**STONE, "color": 3}, 422, "color"),
        ({k: v for k, v in STONE.items() if k != "clarity"}, 422, "clarity"),
        ({**STONE, "colour": "E"}, 422, "colour"),
        ({**STONE, "cut": "x" * 100_000}, 422, "cut"),
        ([STONE, {**STONE, "z": 0}], 422, "1/z"),
    ],
)
def test_bad_stones_get_a_422_naming_the_field_and_never_a_price(
    stack: Stack, stone, status, field
) -> None:
    body = problem(stack.call("POST", "/v1/price", json=stone), status, field)
    assert "price" not in body


@pytest.mark.parametrize(
    ("data", "headers", "status", "title"),
    [
        (b"", JSON, 400, "Empty body"),
        (b" \n", JSON, 400, "Empty body"),
        (b"{not json", JSON, 400, "Malformed JSON"),
        (b'{"carat": NaN}', JSON, 400, "Malformed JSON"),
        (b'{"carat": Infinity}', JSON, 400, "Malformed JSON"),
        ('{"cut": "Idéal"}'.encode("latin-1"), JSON, 400, "Bad encoding"),
        (b"\xff{}", JSON, 400, "Bad encoding"),
        (b"[" * 100_000 + b"]" * 100_000, JSON, 400, "Malformed JSON"),
        (b"carat=1", FORM, 415, "Unsupported media type"),
        (b"1", JSON, 422, "Invalid input"),
        (b"x" * 3_100_000, JSON, 413, "Body too large"),
    ],
)
def test_hostile_bodies(stack: Stack, data: bytes, headers: dict, status: int, title: str) -> None:
    assert (
        problem(stack.call("POST", "/v1/price", data=data, headers=headers), status)["title"]
        == title
    )


@pytest.mark.parametrize(
    "query",
    [
        "explain=maybe",
        "comparables=-1",
        "comparables=1000",
        "comparables=abc",
        "nonsense=1",
        "explain=true&explain=false",
    ],
)
def test_hostile_query_strings(stack: Stack, query: str) -> None:
    problem(stack.call("POST", f"/v1/price?{query}", json=STONE), 422)


def test_every_price_request_is_logged_with_latency_and_version(stack: Stack) -> None:
    engine = stack.engine()
    with engine.connect() as connection:
        before = connection.execute(sa.text("SELECT max(id) FROM prediction_log")).scalar() or 0
    stack.call("POST", "/v1/price", json=STONE)
    superb = {**STONE, "cut": "Superb"}
    stack.call("POST", "/v1/price", json=superb)
    deadline = time.monotonic() + 10
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT id, status, model_version, latency_ms, caller, request"
                    " FROM prediction_log ORDER BY id"
                )
            ).all()
        # Both requests' entries, not merely new ones: an earlier test's may still be arriving.
        new = [r for r in rows if r.id > before]
        logged = {r.status for r in new if r.status != 422 or _json(r.request)["body"] == superb}
        if logged >= {200, 422} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    engine.dispose()
    priced = [r for r in rows if r.status == 200]
    assert priced and priced[-1].model_version and priced[-1].latency_ms > 0
    assert all(KEY not in (r.caller or "") for r in rows)


SLIP = {**STONE, "carat": 2.0, "y": 58.9}
"""The public data's typing slip: valid under the document, refused by the geometry rule."""
NULLS = {
    name: None for name in ("carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z")
}


@pytest.mark.parametrize(
    ("method", "path", "body", "fields"),
    [
        ("POST", "/v1/price", {**STONE, "cut": "Superb"}, ["/cut"]),
        ("POST", "/v1/price", [STONE, {**STONE, "price": 1}], ["/1/price"]),
        ("POST", "/v1/price", [STONE, {**STONE, "z": 0}], ["/1/z"]),
        ("POST", "/v1/price", {**STONE, "a/b~c": 1}, ["/a~1b~0c"]),
        ("POST", "/v1/price", 1, [""]),
        ("POST", "/v1/price", [], [""]),
        ("POST", "/v1/price?comparables=21", STONE, ["/query/comparables"]),
        ("POST", "/v1/price?nonsense=1", STONE, ["/query/nonsense"]),
        (
            "GET",
            "/v1/price?carat=1.01&cut=Ideal&color=E&depth=61.5&table=57&x=6&y=6&z=abc",
            None,
            ["/query/clarity", "/query/z"],
        ),
        ("POST", "/v1/diamonds", [{**STONE, "price": 1}, {**STONE, "price": -1}], ["/1/price"]),
        ("POST", "/v1/diamonds", [], [""]),
        ("PATCH", "/v1/diamonds/1", NULLS, ["/" + name for name in NULLS]),
        ("PATCH", "/v1/diamonds/1", {}, [""]),
        ("GET", "/v1/diamonds?limit=0", None, ["/query/limit"]),
        ("GET", "/v1/diamonds?cut=Ideal,Superb", None, ["/query/cut/1"]),
        ("GET", "/v1/diamonds?cursor=2147483648", None, ["/query/cursor"]),
        (
            "GET",
            "/v1/diamonds?carat_max=8.4e307&cursor=4233217972141819131068416",
            None,
            ["/query/cursor"],
        ),
        ("GET", "/v1/ingestions?cursor=99999999999999999999", None, ["/query/cursor"]),
        ("GET", "/v1/diamonds/2147483648", None, ["/path/id"]),
        ("DELETE", "/v1/diamonds/0", None, ["/path/id"]),
        ("GET", "/v1/runs/" + "r" * 101, None, ["/path/run_id"]),
        ("POST", "/v1/models/any/promote", {"reason": "x", "surprise": 1}, ["/surprise"]),
        ("POST", "/v1/retrain", {"surprise": 1}, ["/surprise"]),
    ],
)
def test_each_error_points_at_one_input_of_the_request(
    stack: Stack, method: str, path: str, body, fields: list[str]
) -> None:
    """errors[].field is an RFC 6901 pointer into the request: the body (`/cut`, `/1/price`,
    `` for the whole), or a parameter (`/query/limit`, `/path/id`); one entry per problem. A
    number beyond what the database holds is such a problem, never a 5xx."""
    sent = {"json": body} if body is not None else {}
    response = stack.call(method, path, key=KEY, **sent)
    assert [e["field"] for e in problem(response, 422)["errors"]] == fields


def test_the_largest_ids_and_cursors_the_database_holds_are_served(stack: Stack) -> None:
    largest = 2**31 - 1
    problem(stack.call("GET", f"/v1/diamonds/{largest}"), 404)
    problem(stack.call("DELETE", f"/v1/diamonds/{largest}", key=KEY), 404)
    assert stack.call("GET", f"/v1/diamonds?cursor={largest}").json()["items"] == []
    assert stack.call("GET", f"/v1/ingestions?cursor={largest}").status_code == 200
    wide = "carat_min=0&carat_max=1.7e308&price_min=0&price_max=1.7e308&limit=1"
    assert stack.call("GET", f"/v1/diamonds?{wide}").status_code == 200


def test_a_patch_may_clear_the_price_and_nothing_else(stack: Stack) -> None:
    created = stack.call("POST", "/v1/diamonds", key=KEY, json={**STONE, "price": 5000}).json()
    path = f"/v1/diamonds/{created['id']}"
    cleared = stack.call("PATCH", path, key=KEY, json={"price": None})
    assert cleared.status_code == 200 and cleared.json()["price"] is None
    assert stack.call("DELETE", path, key=KEY).status_code == 204


def _logged(
    database_url: str,
    after: int,
    statuses: list[int],
    until: Callable[[list], bool] = lambda rows: True,
) -> list:
    """The prediction log's rows after id `after`, once rows with all `statuses` are there and
    `until(rows)` holds (the log is written by a background thread, which also creates its
    table). An earlier test's entries may still be arriving after `after`: a test that looks for
    its own rows among them says in `until` how it knows them."""
    engine = sa.create_engine(database_url)
    deadline = time.monotonic() + 15
    try:
        while True:
            try:
                with engine.connect() as connection:
                    rows = connection.execute(
                        sa.text(
                            "SELECT id, status, caller, n_stones, latency_ms, model_version,"
                            " request, response FROM prediction_log WHERE id > :after"
                            " ORDER BY id"
                        ),
                        {"after": after},
                    ).all()
            except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # no table yet
                rows = []
            found = [r.status for r in rows]
            if all(found.count(s) >= statuses.count(s) for s in statuses) and until(rows):
                return rows
            assert time.monotonic() < deadline, f"logged {found}, expected {statuses}"
            time.sleep(0.2)
    finally:
        engine.dispose()


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_refused_pricing_requests_are_logged_with_their_status_and_errors(stack: Stack) -> None:
    stack.call("POST", "/v1/price", json=STONE)
    after = max(r.id for r in _logged(stack.database_url, 0, [200]))
    sent = [
        (400, stack.call("POST", "/v1/price", data=b"{not json", headers=JSON)),
        (413, stack.call("POST", "/v1/price", data=b"x" * 3_100_000, headers=JSON)),
        (413, stack.call("POST", "/v1/price", json=[STONE] * 10_001)),
        (415, stack.call("POST", "/v1/price", data=b"carat=1", headers=FORM)),
        (401, stack.call("POST", "/v1/price", key="wrong", json=STONE)),
        (422, stack.call("POST", "/v1/price", json={**STONE, "cut": "Superb"})),
        (422, stack.call("POST", "/v1/price", json=[STONE, SLIP])),
        (422, stack.call("GET", "/v1/price?carat=abc")),
        (422, stack.call("POST", "/v1/price", json={**STONE, "no\u0000te": "a\u0000b"})),
    ]
    assert [response.status_code for _, response in sent] == [status for status, _ in sent]
    # a NUL is logged as U+FFFD (PostgreSQL's JSON holds no NUL)
    answers = [
        (status, json.loads(response.text.replace("\\u0000", "\\ufffd")))
        for status, response in sent
    ]

    def entries_of(rows: list, status: int, answered: dict) -> list:
        return [
            r
            for r in rows
            if r.status == status and _json(r.response)["detail"] == answered["detail"]
        ]

    def all_there(rows: list) -> bool:
        """Each request's own entry, and not merely as many entries of each status."""
        implausible = any(
            _json(r.request)["body"] == [STONE, SLIP] for r in rows if r.status == 422
        )
        return implausible and all(entries_of(rows, *answer) for answer in answers)

    rows = _logged(stack.database_url, after, [status for status, _ in sent], all_there)
    refused = {}
    for row in rows:
        refused.setdefault(row.status, []).append(row)
    for status, answered in answers:
        matching = [r for r in refused[status] if _json(r.response)["detail"] == answered["detail"]]
        assert matching, (status, answered)
        row = matching[0]
        logged = _json(row.response)
        assert logged["title"] == answered["title"] and logged["status"] == status
        assert [e["field"] for e in logged.get("errors", [])] == [
            e["field"] for e in answered.get("errors", [])
        ]
        assert row.latency_ms >= 0 and row.model_version is None
        assert _json(row.request)["path"] == "/v1/price"
    assert {r.caller for r in refused[401]} == {"unauthorized"}
    implausible = next(r for r in refused[422] if _json(r.request)["body"] == [STONE, SLIP])
    assert implausible.n_stones == 2
    assert _json(implausible.response)["type"] == "/v1/docs#implausible-stone"


def test_pricing_without_a_model_is_a_logged_503(database_url: str, tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DIAMONDS_DATA_ROOT": (tmp_path / "data").as_uri(),
        "DIAMONDS_MODELS_ROOT": (tmp_path / "models").as_uri(),
        "DIAMONDS_DATABASE_URL": database_url,
    }
    with (tmp_path / "pricing.log").open("wb") as log:
        process = start_function("pricing", port, env, tmp_path, log)
    try:
        wait_until_healthy(port)
        url = f"http://127.0.0.1:{port}/v1/price"
        response = requests.post(url, json=STONE, timeout=30)
        assert problem(response, 503)["title"] == "No model yet"
        assert response.headers["Retry-After"] == "30"
        rows = _logged(database_url, 0, [503])
        assert [(r.status, r.n_stones) for r in rows] == [(503, 1)]
        assert _json(rows[0].response)["detail"] == response.json()["detail"]
        impossible = requests.post(url, json=[STONE, SLIP], timeout=30)
        assert problem(impossible, 422, "/1/carat")["type"] == "/v1/docs#implausible-stone"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "Traceback" not in (tmp_path / "pricing.log").read_text(errors="replace")


# -- inventory -------------------------------------------------------------------------------
def test_inventory_lifecycle(stack: Stack) -> None:
    problem(stack.call("POST", "/v1/diamonds", json={**STONE, "price": 5000}), 401)
    problem(stack.call("POST", "/v1/diamonds", key="wrong", json={**STONE, "price": 5000}), 401)
    partner = stack.call("POST", "/v1/diamonds", key=PARTNER_KEY, json={**STONE, "price": 5000})
    assert "does not hold the `write` scope" in problem(partner, 403)["detail"]
    assert stack.call("POST", "/v1/price", key=PARTNER_KEY, json=STONE).status_code == 200
    assert stack.call("GET", "/v1/diamonds?limit=1", key=PARTNER_KEY).status_code == 200
    created = stack.call("POST", "/v1/diamonds", key=KEY, json={**STONE, "price": 5000})
    assert created.status_code == 201
    stone = created.json()
    assert created.headers["Location"] == f"/v1/diamonds/{stone['id']}"
    path = f"/v1/diamonds/{stone['id']}"
    assert stack.call("GET", path).json()["price"] == 5000
    replaced = stack.call("PUT", path, key=KEY, json={**STONE, "carat": 1.02, "price": 5100}).json()
    assert replaced["carat"] == 1.02 and replaced["price"] == 5100
    patched = stack.call("PATCH", path, key=KEY, json={"price": 5200}).json()
    assert patched["price"] == 5200 and patched["carat"] == 1.02
    problem(stack.call("PATCH", path, key=KEY, json={"carat": None}), 422)
    problem(stack.call("PATCH", path, key=KEY, json={"cut": "Superb"}), 422, "cut")
    problem(stack.call("PATCH", path, key=KEY, json={}), 422)
    assert stack.call("DELETE", path, key=KEY).status_code == 204
    problem(stack.call("GET", path), 404)
    problem(stack.call("DELETE", path, key=KEY), 404)
    problem(stack.call("GET", "/v1/diamonds/99999999999999999999999"), 422, "/path/id")
    problem(stack.call("GET", "/v1/diamonds/abc"), 404)
    problem(stack.call("PUT", "/v1/diamonds", key=KEY, json=STONE), 405)


def test_the_inventory_refuses_the_stones_pricing_refuses(stack: Stack) -> None:
    slip = {**STONE, "carat": 2.0, "y": 58.9, "price": 9000}
    total = stack.call("GET", "/v1/diamonds?limit=1").json()["total"]
    one = problem(stack.call("POST", "/v1/diamonds", key=KEY, json=slip), 422, "/carat")
    assert {e["field"] for e in one["errors"]} == {"/carat", "/depth"}
    assert "describe a stone of about" in one["detail"]
    many = stack.call("POST", "/v1/diamonds", key=KEY, json=[{**STONE, "price": 4000}, slip])
    assert {e["field"] for e in problem(many, 422)["errors"]} == {"/1/carat", "/1/depth"}
    assert stack.call("GET", "/v1/diamonds?limit=1").json()["total"] == total

    created = stack.call("POST", "/v1/diamonds", key=KEY, json={**STONE, "price": 5000}).json()
    path = f"/v1/diamonds/{created['id']}"
    problem(stack.call("PUT", path, key=KEY, json=slip), 422, "/carat")
    problem(stack.call("PATCH", path, key=KEY, json={"y": 58.9}), 422, "/depth")
    problem(stack.call("PATCH", path, key=KEY, json={"depth": 44.0}), 422, "/depth")
    tiny = problem(stack.call("PATCH", path, key=KEY, json={"price": 5e-324}), 422, "/price")
    assert "USD per carat" in tiny["detail"] and tiny["type"] == "/v1/docs#implausible-stone"
    problem(stack.call("PUT", path, key=KEY, json={**STONE, "price": 9e6}), 422, "/price")
    problem(
        stack.call("POST", "/v1/diamonds", key=KEY, json=[{**STONE, "price": 50}]), 422, "/0/price"
    )
    assert stack.call("GET", path).json() == created
    assert stack.call("PATCH", path, key=KEY, json={"carat": 1.02}).json()["carat"] == 1.02
    stack.call("DELETE", path, key=KEY)


def test_bulk_create_filters_and_pagination(stack: Stack) -> None:
    stones = [
        {
            **STONE,
            "cut": cut,
            "carat": 0.5 + i / 100,
            "x": 5.1,
            "y": 5.1,
            "z": 3.15,
            "price": 1000 + i,
        }
        for i, cut in enumerate(["Fair", "Good", "Premium"] * 20)
    ]
    stones = [{**s, "carat": 0.5} for s in stones]
    response = stack.call("POST", "/v1/diamonds", key=KEY, json=stones)
    assert response.status_code == 201 and len(response.json()) == 60
    seen, cursor = [], None
    while True:
        query = "/v1/diamonds?cut=Fair,Good&price_min=1000&price_max=1059&limit=7"
        page = stack.call("GET", query + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [s["id"] for s in page["items"]]
        assert all(s["cut"] in ("Fair", "Good") for s in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 40 == page["total"]
    problem(stack.call("GET", "/v1/diamonds?limit=0"), 422, "limit")
    problem(stack.call("GET", "/v1/diamonds?cut=Superb"), 422, "/query/cut/0")
    problem(stack.call("GET", "/v1/diamonds?carat_min=nan"), 422, "carat_min")
    problem(
        stack.call("POST", "/v1/diamonds", key=KEY, json=[{**STONE, "price": -1}]), 422, "0/price"
    )


def test_concurrent_writers_lose_nothing(stack: Stack) -> None:
    marker = 0.0 + 123.45
    errors: list[str] = []

    def work(worker: int) -> None:
        for i in range(10):
            response = stack.call("POST", "/v1/diamonds", key=KEY, json={**STONE, "price": marker})
            if response.status_code != 201:
                errors.append(response.text)
                continue
            patched = stack.call(
                "PATCH",
                f"/v1/diamonds/{response.json()['id']}",
                key=KEY,
                json={"table": 50 + worker / 2 + i / 100},
            )
            if patched.status_code != 200:
                errors.append(patched.text)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = stack.engine()
    with engine.connect() as connection:
        count, patched = connection.execute(
            sa.text(
                'SELECT count(*), count(*) FILTER (WHERE "table" < 57)'
                " FROM diamonds WHERE price = :p"
            ),
            {"p": marker},
        ).one()
    engine.dispose()
    assert (count, patched) == (80, 80)


# -- models, runs, retraining --------------------------------------------------------------------
def test_models_and_promotion(stack: Stack) -> None:
    listing = stack.call("GET", "/v1/models").json()
    champion = listing["champion"]
    assert [m["version"] for m in listing["models"] if m["champion"]] == [champion]
    meta = stack.call("GET", f"/v1/models/{champion}").json()
    assert meta["artifacts"]["model.json"]["sha256"] and meta["champion"] is True
    problem(stack.call("GET", "/v1/models/nope"), 404)
    problem(stack.call("GET", "/v1/models/..%2F..%2Fetc"), 404)
    problem(stack.call("POST", f"/v1/models/{champion}/promote", json={}), 401)
    promoted = stack.call(
        "POST", f"/v1/models/{champion}/promote", key=KEY, json={"reason": "test"}
    )
    assert promoted.status_code == 200 and promoted.json()["version"] == champion
    problem(stack.call("POST", "/v1/models/nope/promote", key=KEY, json={}), 404)
    problem(stack.call("GET", "/v1/runs/nope"), 404)


def test_retrain_snapshots_the_inventory_and_trains(stack: Stack) -> None:
    problem(stack.call("POST", "/v1/retrain", json={}), 401)
    problem(stack.call("POST", "/v1/retrain", key=KEY, json={"surprise": 1}), 422)
    from ..training_fixtures import CUSTOMER_FILE

    rows = CUSTOMER_FILE.read_text().splitlines()[1:400] if CUSTOMER_FILE.is_file() else []
    header = ["carat", "cut", "color", "clarity", "depth", "table", "price", "x", "y", "z"]
    stones = []
    for row in rows:
        values = dict(zip(header, row.split(","), strict=True))
        stone = {
            k: (v if k in ("cut", "color", "clarity") else float(v)) for k, v in values.items()
        }
        if stone["price"] > 0 and min(stone["x"], stone["y"], stone["z"]) > 0:
            stones.append(stone)
    if stones:
        assert stack.call("POST", "/v1/diamonds", key=KEY, json=stones).status_code in (201, 422)
    started = stack.call("POST", "/v1/retrain", key=KEY, json={"reason": "new appraisals"})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["snapshot"].startswith("file://") and run["rows"] > 0
    deadline = time.monotonic() + 120
    while True:
        status = stack.call("GET", run["status_url"]).json()
        if status["status"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status["status"] == "succeeded", status
    assert status["gate"]["decision"] in ("promoted", "candidate") and status["gate"]["reason"]
    assert run["run_id"] in stack.call("GET", "/v1/runs").json()["runs"]


# -- the service -------------------------------------------------------------------------------
def test_health_openapi_and_docs(stack: Stack) -> None:
    assert stack.call("GET", "/healthz").json() == {
        "status": "ok",
        "usage": {"pending": 0, "failed_writes": 0, "last_failure": None},
    }
    spec = stack.call("GET", "/v1/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert {"/v1/price", "/v1/diamonds", "/v1/diamonds/{id}", "/v1/models", "/v1/retrain"} <= set(
        spec["paths"]
    )
    page = stack.call("GET", "/v1/docs")
    assert page.headers["Content-Type"].startswith("text/html")
    assert "curl" in page.text and "/v1/price" in page.text and "<script" not in page.text
    problem(stack.call("GET", "/v1/nothing-here"), 404)
    problem(stack.call("GET", "/v1/runs/%0A"), 404)  # refused by the framework itself
    json.dumps(spec)
