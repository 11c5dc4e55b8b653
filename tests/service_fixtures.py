"""The functions running for real: four functions-framework processes (inventory, pricing,
models, retrain) on one database (SQLite or PostgreSQL), reached over HTTP, with requests
routed by path the way the cloud's load balancer routes them."""

from __future__ import annotations

import os
import secrets
import shutil
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

from functions.serve import function_for
from training.job import TrainingRun
from training.storage import open_storage

from .training_fixtures import CUSTOMER_FILE, FAST

REPO = Path(__file__).resolve().parents[1]
KEY = "test-write-key-" + "x" * 16
PARTNER_KEY = "test-partner-key-" + "y" * 16
"""A read-only key: it may price and read, never write."""
TARGETS = ("inventory", "pricing", "models", "retrain")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_function(name: str, port: int, env: dict, cwd: Path, log) -> subprocess.Popen:
    """`functions-framework --target NAME`, as the cloud runs it."""
    console = Path(sys.executable).with_name("functions-framework")
    source = REPO / "functions" / "main.py"
    command = [str(console), "--source", str(source), "--target", name, "--host", "127.0.0.1"]
    return subprocess.Popen(
        [*command, "--port", str(port)], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log
    )


def wait_until_healthy(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return
        except requests.ConnectionError:
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

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[function_for(path.split('?')[0])]}{path}"

    def call(
        self, method: str, path: str, *, key: str | None = None, **kwargs
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return self.session.request(method, self.url(path), headers=headers, timeout=60, **kwargs)

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.database_url)


def start_stack(
    root: Path, database_url: str, models: Path, env: dict[str, str] | None = None
) -> Stack:
    shutil.copytree(models, root / "models")
    environment = {
        **os.environ,
        "DIAMONDS_DATA_ROOT": (root / "data").as_uri(),
        "DIAMONDS_MODELS_ROOT": (root / "models").as_uri(),
        "DIAMONDS_DATABASE_URL": database_url,
        "DIAMONDS_API_KEYS": f"other-key,{KEY},read:{PARTNER_KEY}",
        "DIAMONDS_MAX_BODY_BYTES": "3000000",
        "DIAMONDS_CHAMPION_TTL_SECONDS": "0",
        **(env or {}),
    }
    stack = Stack(root, database_url, {name: free_port() for name in TARGETS})
    for name, port in stack.ports.items():
        log = (root / f"{name}.log").open("wb")
        stack.processes.append(start_function(name, port, environment, root, log))
    try:
        for port in stack.ports.values():
            wait_until_healthy(port)
    except RuntimeError:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    for process in stack.processes:
        process.terminate()
    for process in stack.processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    for name in TARGETS:
        log = (stack.root / f"{name}.log").read_text(errors="replace")
        assert "Traceback" not in log, f"{name} failed on the server side:\n{log[-3000:]}"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory, trained_models: Path
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp(f"stack-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'diamonds.db'}"
        dropper = None
    else:
        admin: sa.Engine = request.getfixturevalue("postgres_admin")
        name = f"diamonds_api_{secrets.token_hex(5)}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = admin.url.set(database=name).render_as_string(hide_password=False)

        def dropper() -> None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    stack = start_stack(root, url, trained_models)
    yield stack
    stop_stack(stack)
    if dropper:
        dropper()
