"""Fixtures for the retraining pipeline: the functions (with `ingest`) on each storage backend
and database, CloudEvents delivered over HTTP as Eventarc delivers them, and data files of
stones the champion never saw."""

from __future__ import annotations

import io
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from functions.ingestion import FINALIZED
from local.eventarc import event_for
from training.record import CATEGORIES, COLUMNS
from training.storage import LocalStorage, StoredObject, open_storage
from training.validation import read_records

from .service_fixtures import TARGETS, Stack, start_stack, stop_stack

CONFIGS = [
    pytest.param(("sqlite", "folder"), id="sqlite-folder"),
    pytest.param(
        ("postgresql", "gcs"), id="postgresql-gcs", marks=[pytest.mark.postgres, pytest.mark.gcs]
    ),
]
"""The local defaults, and the cloud's parts (PostgreSQL as Cloud SQL, the GCS emulator): each
storage backend and each database, in the pairs they are deployed in."""
LEASE_SECONDS = 3


@pytest.fixture(scope="session")
def fresh_stones(public_csv: bytes, customer_csv: bytes) -> pd.DataFrame:
    """Valid public stones that are not in the customer's file (the champion never saw them)."""
    public = read_records(public_csv).accepted.drop(columns="line")
    customer = read_records(customer_csv).accepted.drop(columns="line")
    known = set(customer[list(COLUMNS)].astype(str).itertuples(index=False, name=None))
    keys = public[list(COLUMNS)].astype(str).itertuples(index=False, name=None)
    fresh = public[[key not in known for key in keys]]
    return fresh.astype({c: str for c in ("cut", "color", "clarity")}).reset_index(drop=True)


def csv_bytes(stones: pd.DataFrame) -> bytes:
    text = io.StringIO()
    stones[list(COLUMNS)].to_csv(text, index=False)
    return text.getvalue().encode()


def new_database(request: pytest.FixtureRequest, kind: str, root: Path) -> tuple[str, object]:
    """A fresh database URL of the kind asked for, and what drops it afterwards (or None)."""
    if kind == "sqlite":
        return f"sqlite:///{root / 'diamonds.db'}", None
    admin: sa.Engine = request.getfixturevalue("postgres_admin")
    name = f"diamonds_ingest_{secrets.token_hex(5)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def roots_for(request: pytest.FixtureRequest, backend: str) -> dict[str, str | None]:
    if backend == "folder":
        return {"data_root": None, "models_root": None}
    from .gcs_emulator import gcs_client

    request.getfixturevalue("gcs_server")
    bucket = f"pipeline-{secrets.token_hex(6)}"
    gcs_client().create_bucket(bucket)
    return {"data_root": f"gs://{bucket}/data", "models_root": f"gs://{bucket}/models"}


def drop_file(stack: Stack, key: str, content: bytes) -> StoredObject:
    """Write a data file under the DATA root, as a data owner's upload does."""
    storage = open_storage(stack.data_root)
    storage.write(key, content)
    return next(o for o in storage.objects(key) if o.key == key)


def remove_file(stack: Stack, key: str) -> None:
    """Delete a data file, as a data owner withdrawing it does."""
    storage = open_storage(stack.data_root)
    if isinstance(storage, LocalStorage):
        (storage.root / key).unlink()
    else:
        from .gcs_emulator import gcs_client

        bucket, name = storage.location(key)
        gcs_client().bucket(bucket).blob(name).delete()


def deliver(
    stack: Stack,
    obj: StoredObject,
    headers: dict | None = None,
    body: bytes | None = None,
    event_type: str = FINALIZED,
) -> requests.Response:
    """POST the object's "finalized" (or `event_type`) CloudEvent to `ingest`, as Eventarc
    does."""
    event_headers, event_body = event_for(open_storage(stack.data_root), obj, event_type)
    return requests.post(
        f"http://127.0.0.1:{stack.ports['ingest']}/",
        data=event_body if body is None else body,
        headers={**event_headers, **(headers or {})},
        timeout=120,
    )


def ledger(stack: Stack) -> list[dict]:
    return stack.call("GET", "/v1/ingestions?limit=500").json()["items"]


def ledger_row(stack: Stack, obj: StoredObject, event: str = "finalized") -> dict:
    _, name = open_storage(stack.data_root).location(obj.key)
    rows = [
        r
        for r in ledger(stack)
        if (r["name"], r["generation"], r["event"]) == (name, obj.generation, event)
    ]
    assert len(rows) == 1, rows
    return rows[0]


Stone = tuple
"""A stone as a tuple of its COLUMNS, numbers as floats: the same however it was read."""


def stone_of(values: Iterable) -> Stone:
    return tuple(v if k in CATEGORIES else float(v) for k, v in zip(COLUMNS, values, strict=True))


def inventory_stones(stack: Stack) -> Counter[Stone]:
    """Every stone of the inventory, counted (read through the API, page by page)."""
    found: Counter[Stone] = Counter()
    cursor = ""
    while True:
        page = stack.call("GET", f"/v1/diamonds?limit=1000{cursor}").json()
        found.update(stone_of([item[name] for name in COLUMNS]) for item in page["items"])
        if page["next_cursor"] is None:
            return found
        cursor = f"&cursor={page['next_cursor']}"


def file_stones(stones: pd.DataFrame) -> set[Stone]:
    return {stone_of(row) for row in stones[list(COLUMNS)].itertuples(index=False, name=None)}


def wait_idle(stack: Stack, seconds: float = 240) -> dict:
    """Until no training run is in progress or queued; the runs listing."""
    deadline = time.monotonic() + seconds
    while True:
        runs = stack.call("GET", "/v1/runs").json()
        if runs["running"] is None and runs["queued"] is None:
            return runs
        assert time.monotonic() < deadline, f"training still busy: {runs}"
        time.sleep(0.5)


def wait_run(stack: Stack, run_id: str, seconds: float = 240) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        run = stack.call("GET", f"/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} did not end: {run}"
        time.sleep(0.5)


def inventory_count(stack: Stack) -> int:
    return stack.call("GET", "/v1/diamonds?limit=1").json()["total"]


def champion(stack: Stack) -> str:
    return stack.call("GET", "/v1/models").json()["champion"]


@pytest.fixture(scope="module", params=CONFIGS)
def pipeline(
    request: pytest.FixtureRequest, tmp_path_factory, trained_models: Path, customer_csv: bytes
) -> Iterator[Stack]:
    """The functions with `ingest`, whose inventory was seeded by ingesting the customer's file
    (the champion was trained on it), with no training in progress."""
    database, backend = request.param
    root = tmp_path_factory.mktemp(f"pipeline-{database}-{backend}")
    url, drop = new_database(request, database, root)
    stack = start_stack(
        root,
        url,
        trained_models,
        {"DIAMONDS_INGEST_LEASE_SECONDS": str(LEASE_SECONDS)},
        targets=(*TARGETS, "ingest"),
        **roots_for(request, backend),
    )
    try:
        seeded = deliver(stack, drop_file(stack, "incoming/customer.csv", customer_csv))
        assert seeded.status_code == 200, seeded.text
        wait_idle(stack)
        yield stack
    finally:
        stop_stack(stack)
        if drop:
            drop()
