"""The router served on functions-framework's async (ASGI) mode: one router and one set of
handlers for both modes. Each request becomes the WSGI environ the synchronous mode would have
built (a werkzeug Request over it), and the router's answer goes back as it is.

The body is read on the event loop, at most the body limit and a byte: a longer one is a 413
however it arrives. The commonest request may be answered at once from the ASGI scope
(`express`: the pricing of one stone), without building the WSGI request. The router runs on
the event loop when the request can only need the CPU, briefly (the deployable's `quick`), and
in a thread otherwise, so that the database and the storage never block the loop; the threads
at work at once are bounded, and so are the database connections an instance may hold (the
connection budget, docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import io
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request as AsgiRequest
from starlette.responses import Response as AsgiResponse
from werkzeug.exceptions import HTTPException as HTTPError
from werkzeug.exceptions import default_exceptions
from werkzeug.wrappers import Request, Response

_ERRORS = sys.stderr
SWITCH_INTERVAL = 0.0005
"""Seconds a thread holding the interpreter keeps it once another thread asks for it (Python's
default is 5 ms), set in each worker of the async mode. The event loop shares the interpreter
with the prediction log's writer: a request arriving while the writer is at work waited up to
the default for the loop to get the interpreter back, which set the p99 of requests sent one
at a time (README, "One vCPU, the deployed shape")."""


class Received(Request):
    """A werkzeug request whose body was read already: `get_data` gives it without a stream."""

    def __init__(self, environ: dict, body: bytes) -> None:
        super().__init__(environ)
        self.body = body

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):  # type: ignore[override]
        return self.body.decode(errors="replace") if as_text else self.body


def environ(scope: dict, body: bytes) -> dict:
    """The WSGI environ of an ASGI request (PEP 3333): what gunicorn would have given."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    env = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": _ERRORS,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = "HTTP_" + name
        value = raw_value.decode("latin-1")
        env[name] = f"{env[name]},{value}" if name in env else value
    return env


async def read_body(request: AsgiRequest, limit: int) -> bytes:
    """The body, cut after `limit` + 1 bytes; none when its declared length is over `limit`
    already (the router answers 413 either way)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)


def answer(response: Response) -> AsgiResponse:
    body = response.get_data()
    sent = AsgiResponse(body, response.status_code)
    sent.raw_headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers.items()
        if name != "Content-Length"
    ]
    if response.status_code != 304 and response.status_code >= 200:
        sent.raw_headers.append((b"content-length", str(len(body)).encode()))
    return sent


AsgiHandler = Callable[[AsgiRequest], Awaitable[AsgiResponse]]
Express = Callable[[dict, bytes], AsgiResponse | None]
"""Answers the commonest request straight from the ASGI scope and the body, on the event loop,
or leaves it to `serve` (None)."""


def asgi_handler(
    serve: Callable[[Request], Response],
    limit: Callable[[], int],
    express: Express,
    quick: Callable[[Request], bool],
    threads: int,
    stopping: Callable[[], None],
) -> AsgiHandler:
    """An aio HTTP function serving `serve` (a synchronous handler of werkzeug requests): what
    `express` does not answer, on the event loop when `quick` accepts it, on at most `threads`
    threads at once otherwise; `stopping` is called when the worker is told to stop. The worker's
    threads hand the interpreter over within `SWITCH_INTERVAL`."""
    pool: list[ThreadPoolExecutor] = []

    async def handle(request: AsgiRequest) -> AsgiResponse:
        if not pool:  # made in the worker, on its first request
            pool.append(ThreadPoolExecutor(threads, thread_name_prefix="request"))
            on_termination(stopping)
            sys.setswitchinterval(SWITCH_INTERVAL)
        body = await read_body(request, limit())
        if (answered := express(request.scope, body)) is not None:
            return answered
        wsgi = Received(environ(request.scope, body), body)
        if quick(wsgi):
            return answer(serve(wsgi))
        return answer(await asyncio.get_running_loop().run_in_executor(pool[0], serve, wsgi))

    return handle


def on_termination(stopping: Callable[[], None]) -> None:
    """Call `stopping` on SIGTERM, before uvicorn's own handler: once it has shut down, uvicorn
    ends the worker by raising the signal again, which skips the process's exit handlers."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    stopped: list[bool] = []

    def terminate(signum: int, frame: object) -> None:
        """Once: the signal comes again (gunicorn's master passes on the one its process group
        got) and may interrupt `stopping` itself, whose locks are not re-entrant."""
        if not stopped:
            stopped.append(True)
            stopping()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, terminate)


def refusals_as_problems(problem: Callable[[HTTPError], Response]) -> None:
    """What Starlette refuses itself (a method or a path no route of the framework takes,
    /robots.txt and /favicon.ico, which the framework keeps for itself) is answered by
    `problem`, the synchronous mode's error handler: the async mode has none to register, so
    Starlette's default answer (plain text) is replaced."""

    async def refused(middleware: ExceptionMiddleware, request: AsgiRequest, exc: Exception):
        assert isinstance(exc, HTTPException)
        error = default_exceptions.get(exc.status_code, HTTPError)()
        error.code = exc.status_code
        response = problem(error)
        response.headers.update(exc.headers or {})
        return answer(response)

    ExceptionMiddleware.http_exception = refused  # type: ignore[method-assign]
