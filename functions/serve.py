"""`diamonds serve`: the whole local stack on the embedded defaults.

Seeds the inventory from the public data set, trains the first champion, then serves every HTTP
function behind one address, routing paths to functions the way the cloud's load balancer does.
Each function runs as functions-framework loads it in the cloud (its own module instance).
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Callable, Iterable
from pathlib import Path

from functions.config import ServiceSettings
from functions.instance import Instance

MAIN = Path(__file__).with_name("main.py")
ROUTES = (
    ("/v1/diamonds", "inventory"),
    ("/v1/price", "pricing"),
    ("/v1/models", "models"),
    ("/v1/runs", "models"),
    ("/v1/retrain", "retrain"),
)
DEFAULT_FUNCTION = "pricing"
"""Serves /healthz, /v1/openapi.json, /v1/docs and the 404s, as in the cloud."""


def function_for(path: str) -> str:
    for prefix, name in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return DEFAULT_FUNCTION


class Gateway:
    """A WSGI app sending each request, path untouched, to the function that serves it."""

    def __init__(self, apps: dict[str, Callable]) -> None:
        self.apps = apps

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        return self.apps[function_for(environ.get("PATH_INFO", ""))](environ, start_response)


def prepare(instance: Instance, log: Callable[[str], None] = print) -> None:
    """Seed an empty inventory from the public data set and train a first champion."""
    inventory = instance.inventory
    if inventory.count() == 0:
        from training.datasets import public_diamonds_path
        from training.quarantine import write_quarantine
        from training.validation import read_records

        path = public_diamonds_path()
        data = path.read_bytes()
        result = read_records(data)
        source = {"uri": path.as_uri(), "bytes": len(data)}
        write_quarantine(instance.data, "seed-public-diamonds.csv", source, result)
        records = result.accepted.drop(columns="line").astype(
            {c: str for c in ("cut", "color", "clarity")}
        )
        rows = records.to_dict("records")
        for start in range(0, len(rows), 5000):
            inventory.create_many(rows[start : start + 5000], source="seed")
        log(f"inventory seeded: {len(rows):,} stones ({len(result.rejected)} quarantined)")
    if instance.registry.champion() is None:
        from training.job import TrainingRun

        data, rows = inventory.priced_records_csv()
        instance.data.write("snapshots/seed.csv", data)
        log(f"training the first model on {rows:,} stones…")
        TrainingRun(
            instance.data,
            instance.registry.storage,
            trigger="serve",
            log=lambda line: log("  " + line),
        ).run([instance.data.url_for("snapshots/seed.csv")])


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C or a polite kill both stop the server and what it started."""
    raise KeyboardInterrupt


def serve(host: str = "127.0.0.1", port: int = 8080) -> None:
    from functions_framework import create_app
    from werkzeug.serving import run_simple

    if not os.environ.get("DIAMONDS_API_KEYS"):
        os.environ["DIAMONDS_API_KEYS"] = secrets.token_urlsafe(24)
    settings = ServiceSettings.from_environment()
    prepare(Instance(settings))
    apps = {
        name: create_app(name, str(MAIN)) for name in ("inventory", "pricing", "models", "retrain")
    }
    url = f"http://{host}:{port}"
    print(
        f"\ndiamonds is serving at {url}\n"
        f"  docs      {url}/v1/docs\n"
        f"  write key {settings.keys(write=True)[0]}\n"
        f"  try       curl -s '{url}/v1/price?carat=1.01&cut=Ideal&color=E&clarity=VS1"
        "&depth=61.5&table=57&x=6.44&y=6.47&z=3.97&explain=true'\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _interrupt)
    try:
        run_simple(host, port, Gateway(apps), threaded=True)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        from functions.runners import stop_children

        stop_children()
