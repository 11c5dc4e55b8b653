"""`diamonds serve`: the whole local stack on the embedded defaults.

Every HTTP function behind one address, routing paths to functions the way the cloud's load
balancer does; the `ingest` function behind a local Eventarc that watches incoming/ of the DATA
root; an empty inventory seeded by dropping the public data set into incoming/, which ingests
it and trains the first model through the very pipeline new appraisals take. Each function runs
as functions-framework loads it in the cloud (its own module instance).

With `emulate_gcp`, both storage roots are buckets of a local GCS emulator and the database is
the PostgreSQL server: the gs:// code paths, end to end, with no cloud account.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import re
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from http import HTTPStatus
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wsgi import get_input_stream

from functions.deployables import HTTP_TARGETS, target_for
from functions.http.keys import ADMIN
from functions.http.problems import PROBLEM_JSON
from functions.instance import Instance
from functions.settings import ServiceSettings
from training.config import LOCAL_HOME

MAIN = Path(__file__).parents[1] / "functions" / "main.py"
"""The functions' entry points, loaded by functions-framework as the cloud loads them."""
SEED_KEY = "incoming/public-diamonds.csv"
EMULATED_BUCKETS = {
    "DIAMONDS_DATA_ROOT": "diamonds-data",
    "DIAMONDS_MODELS_ROOT": "diamonds-models",
}
EMULATED_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/diamonds"
LOCAL_CHAMPION_TTL = "1"
"""Locally champion.json is a file read: look for a new champion every second."""

log = logging.getLogger("diamonds.serve")


class Gateway:
    """A WSGI app sending each request, path untouched, to the function that serves it."""

    def __init__(self, apps: dict[str, Callable]) -> None:
        self.apps = apps

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        return self.apps[target_for(environ.get("PATH_INFO", ""))](environ, start_response)


def loaded(target: str) -> Callable:
    """The WSGI app of a target of main.py, as functions-framework loads it: a function of its
    async mode (a Starlette app) behind a bridge, so one WSGI server serves them all."""
    from functions_framework import create_app

    app = create_app(target, str(MAIN))
    return app if hasattr(app, "wsgi_app") else AsyncFunction(app)


class AsyncFunction:
    """A WSGI app running an ASGI app: each request becomes an ASGI request (the whole body
    read first) on one event loop of its own thread, and the WSGI server's thread waits for
    the answer."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="asgi", daemon=True).start()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        body = get_input_stream(environ).read()
        answer: dict = {"body": []}

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"], answer["headers"] = message["status"], message["headers"]
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))

        scope = _scope(environ)
        asyncio.run_coroutine_threadsafe(self.app(scope, receive, send), self.loop).result()
        status = answer["status"]
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in answer["headers"]
            ],
        )
        return answer["body"]


def _scope(environ: dict) -> dict:
    """The ASGI scope of a WSGI request."""
    headers = [
        (name[5:].replace("_", "-").lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in environ.items()
        if name.startswith("HTTP_")
    ]
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers.append((name.replace("_", "-").lower().encode(), environ[name].encode()))
    path = environ.get("PATH_INFO", "").encode("latin-1")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").removeprefix("HTTP/"),
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": path.decode("utf-8", "replace"),
        "raw_path": path,
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": (environ.get("REMOTE_ADDR", ""), int(environ.get("REMOTE_PORT") or 0)),
        "server": (environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0)),
    }


class RequestHandler(WSGIRequestHandler):
    """werkzeug's, but a request the server itself refuses (a request line or a header too
    long, too many headers) is answered with a problem document like every other refusal, and
    the access log shows a query's parameter names, never their values (a client may send its
    key there)."""

    error_content_type = PROBLEM_JSON
    error_message_format = (
        '{"type": "/v1/docs#problem-%(code)d", "title": "%(message)s", "status": %(code)d, '
        '"detail": "%(explain)s"}'
    )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        line = getattr(self, "requestline", "")
        self.log("info", '"%s" %s %s', _without_query_values(line), code, size)


def _without_query_values(line: str) -> str:
    """`GET /v1/price?key=s3cret&carat=1 HTTP/1.1` → `GET /v1/price?key=…&carat=… HTTP/1.1`;
    a parameter name that is no plain word is left out too."""
    return _QUERY.sub(_names_only, line).translate(_CONTROL)


def _names_only(query: re.Match) -> str:
    names = (part.partition("=")[0] for part in query[1].split("&"))
    return "?" + "&".join(f"{n}=…" if _NAME.fullmatch(n) else "…" for n in names)


_QUERY = re.compile(r"\?(\S*)")
_NAME = re.compile(r"[A-Za-z_]{1,30}")
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


class PortTaken(OSError):
    """The address to serve on is in use."""


def listen(host: str, port: int) -> socket.socket:
    """The socket to serve on, bound and listening before anything else starts: an address in
    use stops the start at once, and nothing can take it meanwhile."""
    from werkzeug.serving import LISTEN_QUEUE, select_address_family

    try:
        listener = socket.socket(select_address_family(host, port), socket.SOCK_STREAM)
    except OSError as exc:
        raise PortTaken(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(LISTEN_QUEUE)
    except OSError as exc:
        listener.close()
        raise PortTaken(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    return listener


def write_keys() -> str:
    """Where the write key comes from: DIAMONDS_API_KEYS pins the keys; without any key there,
    an admin key is generated for this start (and put there for the functions to read)."""
    if ServiceSettings.from_environment().bearer_keys():
        return "DIAMONDS_API_KEYS"
    os.environ["DIAMONDS_API_KEYS"] = secrets.token_urlsafe(24)
    return "new at each start; DIAMONDS_API_KEYS=KEY pins one"


def seed(instance: Instance, say: Callable[[str], None], source: Path | None = None) -> None:
    """An empty inventory that never ingested anything is seeded with a data file (by default
    the public data set), dropped into incoming/ like any data file."""
    if instance.inventory.count() or instance.ledger.list(1)[0] or instance.data.exists(SEED_KEY):
        return
    if source is None:
        from training.datasets import public_diamonds_path

        source, what = public_diamonds_path(), "the public data set"
    else:
        what = source.name
    instance.data.write(SEED_KEY, source.read_bytes())
    say(
        f"seeding: {what} went into {SEED_KEY}; it is being ingested and the first model "
        "trained on it (about a minute)"
    )


def train_first_champion(instance: Instance, say: Callable[[str], None]) -> None:
    """Stones but no champion (the models root was emptied, or a run died before its first
    model): the stack asks for a run rather than serving nothing until the next file."""
    stones = instance.inventory.count()
    schedule = instance.schedule.state()
    if not stones or instance.registry.champion() or schedule["current"] or schedule["next"]:
        return
    instance.retraining.request(
        trigger="serve",
        reason=f"the inventory holds {stones} stones and no model serves",
        caller="diamonds serve",
    )
    say(f"no model serves: training the first one on the inventory's {stones} stones")


def watch_champion(instance: Instance, say: Callable[[str], None], stop: threading.Event) -> None:
    """Say so whenever a new model starts serving; every few seconds, start a training run
    left waiting on a free slot (the retry of a run whose training process died)."""
    from functions.retraining import JobNotStarted

    serving = None
    for tick in itertools.count(1):
        if stop.wait(1.0):
            return
        try:
            champion = instance.registry.champion()
            if champion and champion["version"] != serving:
                serving = champion["version"]
                metrics = instance.registry.metadata(serving)["metrics"]["cross_validation"]
                say(f"model {serving} is the champion (CV MAPE {metrics['mape']:.2f}%)")
            if tick % 5 == 0:
                instance.retraining.resume()
        except JobNotStarted as exc:
            log.warning("the waiting training run could not start: %s", exc)
        except Exception as exc:
            log.warning("could not read the champion or the schedule: %s", exc)


@contextmanager
def emulated_gcp(home: Path) -> Iterator[str]:
    """Both storage roots on a GCS emulator keeping its objects under `home`, the database on
    the PostgreSQL server (DIAMONDS_DATABASE_URL, or the local server's `diamonds` database)."""
    from functions.database import create_database
    from local.gcs_emulator import GCSEmulator

    emulator = GCSEmulator(home / "gcs").start()
    try:
        for variable, bucket in EMULATED_BUCKETS.items():
            emulator.ensure_bucket(bucket)
            os.environ[variable] = f"gs://{bucket}"
        os.environ["STORAGE_EMULATOR_HOST"] = emulator.url
        os.environ.setdefault("DIAMONDS_DATABASE_URL", EMULATED_DATABASE)
        create_database(os.environ["DIAMONDS_DATABASE_URL"])
        yield emulator.url
    finally:
        emulator.stop()


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C or a polite kill both stop the server and what it started."""
    raise KeyboardInterrupt


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    emulate_gcp: bool = False,
    seed_file: Path | None = None,
) -> None:
    from werkzeug.serving import make_server

    from functions.database import migrate
    from functions.runners import stop_children
    from local.eventarc import Watcher

    listener = listen(host, port)

    def say(line: str) -> None:
        print(line, flush=True)

    _show_service_logs()
    os.environ.setdefault("DIAMONDS_CHAMPION_TTL_SECONDS", LOCAL_CHAMPION_TTL)
    stop = threading.Event()
    with ExitStack() as stack:
        stack.callback(listener.close)
        storage_line = ""
        if emulate_gcp:
            emulator = stack.enter_context(emulated_gcp(LOCAL_HOME.resolve()))
            storage_line = f"  storage   GCS emulator: STORAGE_EMULATOR_HOST={emulator}\n"
        key_origin = write_keys()
        settings = ServiceSettings.from_environment()
        migrate(settings.database_url)
        instance = Instance(settings)
        apps = {name: loaded(name) for name in HTTP_TARGETS}
        ingest = make_server(
            "127.0.0.1",
            0,
            loaded("ingest"),
            threaded=True,
            request_handler=RequestHandler,
        )
        threading.Thread(target=ingest.serve_forever, name="ingest", daemon=True).start()
        stack.callback(ingest.shutdown)
        state = LOCAL_HOME / "eventarc" / f"{_digest(settings.data_root)}.json"
        watcher = Watcher(instance.data, f"http://127.0.0.1:{ingest.server_port}/", state)
        stack.callback(watcher.stop)
        watcher.start()
        seed(instance, say, seed_file)
        instance.retraining.resume()
        train_first_champion(instance, say)
        threading.Thread(
            target=watch_champion, args=(instance, say, stop), name="champion", daemon=True
        ).start()
        stack.callback(stop.set)
        stack.callback(stop_children)
        gateway = make_server(
            host,
            port,
            Gateway(apps),
            threaded=True,
            fd=listener.fileno(),
            request_handler=RequestHandler,
        )
        stack.callback(gateway.server_close)
        admins = [secret for principal, secret in settings.bearer_keys() if principal.may(ADMIN)]
        write_key = (
            f"{admins[0].decode()} ({key_origin}; an admin key: it may also manage partners)"
            if admins
            else "none (DIAMONDS_API_KEYS holds read-only keys only)"
        )
        url = f"http://{host}:{port}"
        with contextlib.suppress(KeyboardInterrupt):
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, _interrupt)
            say(
                f"\ndiamonds is serving at {url}\n"
                f"  docs      {url}/v1/docs\n"
                f"  data      {settings.data_root}/incoming/ (drop CSV files here to ingest them)\n"
                f"{storage_line}"
                f"  ingest    http://127.0.0.1:{ingest.server_port}/ (where the watcher delivers)\n"
                f"  database  {_without_password(settings.database_url)}\n"
                f"  write key {write_key}\n"
                f"  try       curl -s '{url}/v1/price?carat=1.01&cut=Ideal&color=E&clarity=VS1"
                "&depth=61.5&table=57&x=6.44&y=6.47&z=3.97&explain=true'\n"
                "Ctrl-C stops everything.\n"
            )
            gateway.serve_forever()
        say("stopping")


def _without_password(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _show_service_logs() -> None:
    """The services' own log lines (ingestion, training runs) go to the console."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("diamonds")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
