"""What the async mode's adapter (functions/http/asgi.py) costs per request, in process: the
WSGI environ built from an ASGI scope, the werkzeug request over it and the fields the router
reads, the body read through werkzeug's stream or handed over, the answer; beside what a light
request object reading the scope directly would still do, and a Starlette response alone.

    python benchmarks/adapter.py [--number 20000]

Each figure is the best of 5 repeats of --number calls (timeit), in µs per call.
"""

from __future__ import annotations

import argparse
import io
import json
import timeit

from harness import machine_load
from results import records
from starlette.responses import Response as AsgiResponse
from werkzeug.wrappers import Request, Response

from functions.http.asgi import Received, answer, environ

BODY = json.dumps(
    {
        "carat": 1.1,
        "cut": "Ideal",
        "color": "H",
        "clarity": "SI2",
        "depth": 62.0,
        "table": 55.0,
        "x": 6.61,
        "y": 6.65,
        "z": 4.11,
    }
).encode()
SCOPE = {
    "type": "http",
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/v1/price",
    "raw_path": b"/v1/price",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"127.0.0.1:8080"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"user-agent", b"wrk"),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8080),
}
ANSWER = (
    b'{"price":3957.0,"interval":{"low":3580.0,"high":4370.0,"coverage":0.9},'
    b'"model_version":"20261206T232254982163Z-66be2451"}'
)


def fields(request: Request) -> None:
    """What the router reads of every pricing request."""
    request.headers.get("Authorization")
    request.headers.get("Accept")
    _ = request.method, request.path, request.mimetype, request.content_length


def werkzeug_stream() -> None:
    made = environ(SCOPE, BODY)
    made["wsgi.input"] = io.BytesIO(BODY)
    request = Request(made)
    fields(request)
    request.get_data()


def handed_over() -> None:
    request = Received(environ(SCOPE, BODY), BODY)
    fields(request)
    request.get_data()


def light() -> None:
    headers = dict(SCOPE["headers"])
    headers.get(b"authorization")
    headers.get(b"accept")
    headers.get(b"content-type")
    _ = SCOPE["method"], SCOPE["path"], BODY


def environ_only() -> None:
    environ(SCOPE, BODY)


def werkzeug_answer() -> None:
    answer(Response(ANSWER, 200, content_type="application/json"))


def starlette_answer() -> None:
    AsgiResponse(ANSWER, media_type="application/json")


@records("adapter", "The async mode's adapter")
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--number", type=int, default=20_000)
    number = parser.parse_args().number
    print(f"the adapter's parts, µs per request; {machine_load()}")
    for name, call in (
        ("environ from the scope", environ_only),
        ("request, fields, body read through werkzeug's stream", werkzeug_stream),
        ("request, fields, body handed over (the adapter)", handed_over),
        ("a light request object reading the scope", light),
        ("werkzeug response answered as a Starlette one (the adapter)", werkzeug_answer),
        ("a Starlette response alone", starlette_answer),
    ):
        best = min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6
        print(f"  {name:62s} {best:6.1f}")
    print(machine_load())


if __name__ == "__main__":
    main()
