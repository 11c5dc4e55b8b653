"""Pytest fixtures for a local GCS emulator (fake-gcs-server, local/gcs_emulator.py).

`gcs_server` runs one in-memory server per session and points STORAGE_EMULATOR_HOST at it, so
any google-cloud-storage client created during the tests talks to it. `gcs_bucket` gives each
test a fresh bucket; `storage` runs a test on a local folder and again on a bucket. Without the
server the tests are skipped, except on CI where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from local.gcs_emulator import EmulatorUnavailable, GCSEmulator
from training.storage import GCSStorage, LocalStorage, Storage


def gcs_client() -> Any:
    """A client for the emulator (call it while `gcs_server` is active)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials())


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"GCS emulator unavailable on CI: {reason}")
    pytest.skip(f"GCS emulator unavailable: {reason}")


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GCSEmulator]:
    """The emulator; STORAGE_EMULATOR_HOST points at it for the whole session."""
    try:
        emulator = GCSEmulator().start()
    except EmulatorUnavailable as exc:
        _unavailable(str(exc))
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("STORAGE_EMULATOR_HOST", emulator.url)
            yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def gcs_server(gcs_emulator: GCSEmulator) -> str:
    """The emulator's URL."""
    return gcs_emulator.url


@pytest.fixture
def gcs_bucket(gcs_server: str) -> str:
    """The name of a new, empty bucket."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    gcs_client().create_bucket(name)
    return name


@pytest.fixture(params=["local", pytest.param("gcs", marks=pytest.mark.gcs)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """An empty storage: a local folder, and a prefix of a new bucket of the emulator."""
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    return GCSStorage(request.getfixturevalue("gcs_bucket"), "some/prefix", client=gcs_client())
