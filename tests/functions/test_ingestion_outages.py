"""What an outage does to an ingestion: the database or the bucket gone mid-way → a non-2xx so
that Eventarc delivers again, nothing half-written, and the redelivery succeeds."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from local.gcs_emulator import GCSEmulator

from ..ingestion_fixtures import (
    LEASE_SECONDS,
    csv_bytes,
    deliver,
    drop_file,
    ledger_row,
    new_database,
    wait_idle,
)
from ..service_fixtures import TARGETS, start_stack, stop_stack

pytestmark = pytest.mark.slow


class Relay:
    """A TCP relay to a server that the test can cut, as if the server had stopped: open
    connections are closed and new ones refused. Armed with `cut_on`, it cuts by itself the
    moment a client sends those bytes."""

    def __init__(self, target: tuple[str, int], cut_on: bytes | None = None) -> None:
        self.target, self.cut_on = target, cut_on
        self.down = threading.Event()
        self.cut_done = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client and self.cut_on and self.cut_on in data:
                    self.cut()
                    return
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self.down.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()
        self.cut_done.set()

    def restore(self) -> None:
        self.cut_on = None
        self.down.clear()

    def close(self) -> None:
        self._listener.close()
        self.cut()


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url, drop = new_database(request, "postgresql", tmp_path)
    yield url
    drop()


@pytest.mark.postgres
def test_the_database_stopping_mid_ingestion_writes_nothing_and_the_redelivery_succeeds(
    postgres_database: str, trained_models: Path, fresh_stones, tmp_path: Path
) -> None:
    direct = sa.make_url(postgres_database)
    relay = Relay((direct.host or "127.0.0.1", direct.port or 5432))
    relayed = direct.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    stack = start_stack(
        tmp_path,
        relayed,
        trained_models,
        {"DIAMONDS_INGEST_LEASE_SECONDS": str(LEASE_SECONDS)},
        targets=(*TARGETS, "ingest"),
    )
    engine = sa.create_engine(postgres_database)
    try:
        obj = drop_file(stack, "incoming/during-outage.csv", csv_bytes(fresh_stones.iloc[:300]))
        relay.cut_on = b"INSERT INTO diamonds"
        answer = deliver(stack, obj)
        assert relay.cut_done.is_set()
        assert answer.status_code == 503 and "will be retried" in answer.text
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM diamonds")).scalar() == 0
            status, stored = connection.execute(
                sa.text("SELECT status, stored_at FROM ingested_files")
            ).one()
        assert (status, stored) == ("processing", None)

        relay.restore()
        assert deliver(stack, obj).status_code == 409
        time.sleep(LEASE_SECONDS + 0.5)
        assert deliver(stack, obj).status_code == 200
        row = ledger_row(stack, obj)
        assert row["status"] == "done" and row["attempts"] == 2 and row["inserted"] == 300
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM diamonds")).scalar() == 300
        wait_idle(stack)
    finally:
        engine.dispose()
        stop_stack(stack)
        relay.close()


@pytest.mark.gcs
def test_the_bucket_out_of_reach_is_retried_and_the_redelivery_succeeds(
    trained_models: Path, fresh_stones, tmp_path: Path
) -> None:
    emulator = GCSEmulator(tmp_path / "gcs").start()
    emulator.ensure_bucket("outage")
    environment = {"STORAGE_EMULATOR_HOST": emulator.url}
    stack = None
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("STORAGE_EMULATOR_HOST", emulator.url)
            stack = start_stack(
                tmp_path,
                f"sqlite:///{tmp_path / 'diamonds.db'}",
                trained_models,
                environment,
                targets=(*TARGETS, "ingest"),
                data_root="gs://outage/data",
            )
            obj = drop_file(stack, "incoming/late.csv", csv_bytes(fresh_stones.iloc[300:400]))
            emulator.stop()
            answer = deliver(stack, obj)
            assert answer.status_code == 503 and "will be retried" in answer.text
            assert ledger_row(stack, obj)["status"] == "failed"

            emulator = GCSEmulator(tmp_path / "gcs", port=emulator.port).start()
            assert deliver(stack, obj).status_code == 200
            row = ledger_row(stack, obj)
            assert row["status"] == "done" and row["attempts"] == 2 and row["inserted"] == 100
            wait_idle(stack)
    finally:
        if stack is not None:
            stop_stack(stack)
        emulator.stop()
