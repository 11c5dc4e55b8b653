"""The functions running for real: functions-framework processes (inventory, pricing, models,
retrain, and ingest where a test asks for it) on one database (SQLite or PostgreSQL), reached
over HTTP, with requests routed by path the way the cloud's load balancer routes them."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from functions.deployables import HTTP_TARGETS, target_for
from training.job import TrainingRun
from training.storage import open_storage

from .training_fixtures import CUSTOMER_FILE, FAST

REPO = Path(__file__).resolve().parents[1]
KEY = "test-write-key-" + "x" * 16
PARTNER_KEY = "test-partner-key-" + "y" * 16
"""A read-only key: it may price and read, never write."""
TARGETS = HTTP_TARGETS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_function(name: str, port: int, env: dict, cwd: Path, log) -> subprocess.Popen:
    """`functions-framework --target NAME`, as the cloud runs it: after the release step that
    migrates its database (`diamonds db upgrade`), when it has one."""
    from functions.database import migrate

    if env.get("DIAMONDS_DATABASE_URL"):
        migrate(env["DIAMONDS_DATABASE_URL"])
    console = Path(sys.executable).with_name("functions-framework")
    source = REPO / "functions" / "main.py"
    command = [str(console), "--source", str(source), "--target", name, "--host", "127.0.0.1"]
    return subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )


def wait_until_healthy(port: int, seconds: float = 60, path: str | None = "/healthz") -> None:
    """Until the function answers `path` (None: until it accepts connections at all)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if path is None:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            if requests.get(f"http://127.0.0.1:{port}{path}", timeout=1).ok:
                return
        except (requests.ConnectionError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the function on port {port} did not start")


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory, sample_csv: bytes) -> Path:
    """A MODELS root with a champion trained once per session (small and fast)."""
    root = tmp_path_factory.mktemp("trained")
    source = CUSTOMER_FILE if CUSTOMER_FILE.is_file() else root / "sample.csv"
    if not CUSTOMER_FILE.is_file():
        source.write_bytes(sample_csv)
    TrainingRun(
        open_storage((root / "data").as_uri()),
        open_storage((root / "models").as_uri()),
        params=FAST,
        log=lambda line: None,
    ).run([str(source)])
    return root / "models"


@dataclass
class Stack:
    root: Path
    database_url: str
    ports: dict[str, int]
    processes: list[subprocess.Popen] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)
    data_root: str = ""
    models_root: str = ""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[target_for(path.split('?')[0])]}{path}"

    def call(
        self, method: str, path: str, *, key: str | None = None, **kwargs
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return self.session.request(method, self.url(path), headers=headers, timeout=60, **kwargs)

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.database_url)


def copy_models(models: Path, root_uri: str) -> None:
    """Put a trained MODELS root (a folder) under another root (a folder or a bucket)."""
    target = open_storage(root_uri)
    for path in sorted(p for p in models.rglob("*") if p.is_file() and p.suffix != ".lock"):
        target.write(path.relative_to(models).as_posix(), path.read_bytes())


def start_stack(
    root: Path,
    database_url: str,
    models: Path,
    env: dict[str, str] | None = None,
    *,
    targets: tuple[str, ...] = TARGETS,
    data_root: str | None = None,
    models_root: str | None = None,
) -> Stack:
    data_root = data_root or (root / "data").as_uri()
    models_root = models_root or (root / "models").as_uri()
    copy_models(models, models_root)
    environment = {
        **os.environ,
        "DIAMONDS_DATA_ROOT": data_root,
        "DIAMONDS_MODELS_ROOT": models_root,
        "DIAMONDS_DATABASE_URL": database_url,
        "DIAMONDS_API_KEYS": f"other-key,{KEY},read:{PARTNER_KEY}",
        "DIAMONDS_MAX_BODY_BYTES": "3000000",
        "DIAMONDS_CHAMPION_TTL_SECONDS": "0",
        **(env or {}),
    }
    ports = {name: free_port() for name in targets}
    stack = Stack(root, database_url, ports, data_root=data_root, models_root=models_root)
    for name, port in stack.ports.items():
        log = (root / f"{name}.log").open("wb")
        stack.processes.append(start_function(name, port, environment, root, log))
    try:
        for name, port in stack.ports.items():
            wait_until_healthy(port, path="/healthz" if name != "ingest" else None)
    except RuntimeError:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    """Stop the functions and the training processes they started (their process groups)."""
    for process in stack.processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in stack.processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for name in stack.ports:
        log = (stack.root / f"{name}.log").read_text(errors="replace")
        assert "Traceback" not in log, f"{name} failed on the server side:\n{log[-3000:]}"


@dataclass(frozen=True)
class Served:
    url: str
    write_key: str
    console: str
    """What it printed by the time it served."""


@contextlib.contextmanager
def serving(root: Path, stones: bytes, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`diamonds serve` in `root` (its models root at root/models, prepared by the caller), the
    inventory holding the valid stones of `stones`, so that it skips its seeding. Its log
    (root/serve.log) must hold no traceback."""
    from functions.database import Inventory, make_engine, migrate
    from training.validation import read_records

    database_url = f"sqlite:///{root / 'diamonds.db'}"
    engine = make_engine(database_url)
    migrate(engine)
    accepted = read_records(stones).accepted.drop(columns="line")
    records = accepted.astype({c: str for c in ("cut", "color", "clarity")}).to_dict("records")
    Inventory(engine).create_many(records, source="seed")
    engine.dispose()

    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIAMONDS_")}
    environment.update(
        {
            "DIAMONDS_DATA_ROOT": (root / "data").as_uri(),
            "DIAMONDS_MODELS_ROOT": (root / "models").as_uri(),
            "DIAMONDS_DATABASE_URL": database_url,
            "DIAMONDS_CHAMPION_TTL_SECONDS": "0",
            **(env or {}),
        }
    )
    log = root / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("diamonds")), "serve", "--port", str(port)],
            cwd=root,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(port, seconds=120)
        console = log.read_text()
        key = re.search(r"write key (\S+)", console)
        assert key, console
        yield Served(f"http://127.0.0.1:{port}", key.group(1), console)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


@contextlib.contextmanager
def module_database(request: pytest.FixtureRequest, root: Path) -> Iterator[str]:
    """The URL of a new database for a module's servers: a SQLite file under `root`, or a
    PostgreSQL database created for it and dropped after (request.param says which)."""
    if request.param == "sqlite":
        yield f"sqlite:///{root / 'diamonds.db'}"
        return
    admin: sa.Engine = request.getfixturevalue("postgres_admin")
    name = f"diamonds_api_{secrets.token_hex(5)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=DATABASES)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory, trained_models: Path
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp(f"stack-{request.param}")
    with module_database(request, root) as url:
        stack = start_stack(root, url, trained_models)
        yield stack
        stop_stack(stack)


@dataclass
class FrontDoor:
    """Every HTTP function behind one address (tests/gateway.py), as a client sees the API."""

    url: str
    root: Path
    database_url: str
    process: subprocess.Popen


def start_front_door(root: Path, database_url: str, models: Path) -> FrontDoor:
    from functions.database import migrate

    migrate(database_url)
    copy_models(models, (root / "models").as_uri())
    environment = {
        **os.environ,
        "DIAMONDS_DATA_ROOT": (root / "data").as_uri(),
        "DIAMONDS_MODELS_ROOT": (root / "models").as_uri(),
        "DIAMONDS_DATABASE_URL": database_url,
        "DIAMONDS_API_KEYS": f"{KEY},read:{PARTNER_KEY}",
        "DIAMONDS_TRAINING_RUNNER": "local",
        "DIAMONDS_CHAMPION_TTL_SECONDS": "0",
    }
    port = free_port()
    with (root / "front-door.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.gateway", str(port)],
            env=environment,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    door = FrontDoor(f"http://127.0.0.1:{port}", root, database_url, process)
    try:
        wait_until_healthy(port)
    except RuntimeError:
        stop_front_door(door)
        raise
    return door


def stop_front_door(door: FrontDoor) -> None:
    """Stop it and the training processes it started (its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(door.process.pid, signal.SIGTERM)
    try:
        door.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(door.process.pid, signal.SIGKILL)
        door.process.wait()
    log = (door.root / "front-door.log").read_text(errors="replace")
    assert "Traceback" not in log, f"the functions failed on the server side:\n{log[-3000:]}"


@pytest.fixture(scope="module", params=DATABASES)
def front_door(
    request: pytest.FixtureRequest, tmp_path_factory, trained_models: Path
) -> Iterator[FrontDoor]:
    root = tmp_path_factory.mktemp(f"front-door-{request.param}")
    with module_database(request, root) as url:
        door = start_front_door(root, url, trained_models)
        yield door
        stop_front_door(door)
