"""The local runner (functions/runners.py): a training job is `python -m training` as a child
process; a child that dies is reported at once, and a job whose process is gone is recognised
by whoever looks later. Real child processes, on a MODELS root in a folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from functions.runners import LocalRunner
from functions.settings import ServiceSettings

GONE = "its training process is gone"


class Ends:
    """The runner's on_end: how each job ended, and a way to wait for one."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict, str]] = []
        self._ended = threading.Event()

    def __call__(self, job: dict, how: str) -> None:
        self.seen.append((job, how))
        self._ended.set()

    def wait(self) -> tuple[dict, str]:
        assert self._ended.wait(60), "the runner never reported the job's end"
        return self.seen[-1]


@pytest.fixture()
def roots(tmp_path: Path) -> dict[str, Path]:
    return {"data": tmp_path / "data", "models": tmp_path / "models"}


@pytest.fixture()
def ends() -> Ends:
    return Ends()


@pytest.fixture()
def runner(roots: dict[str, Path], ends: Ends) -> LocalRunner:
    settings = ServiceSettings(
        data_root=roots["data"].as_uri(), models_root=roots["models"].as_uri()
    )
    return LocalRunner(settings, on_end=ends)


def test_a_job_is_python_m_training_on_the_snapshot_for_its_run(
    runner: LocalRunner, ends: Ends, roots: dict[str, Path]
) -> None:
    snapshot = (roots["data"] / "snapshots" / "missing.csv").as_uri()
    job = runner.start(snapshot, "run-1", "api")
    assert job == {
        "runner": "local",
        "host": socket.gethostname(),
        "pid": job["pid"],
        "run_id": "run-1",
    }
    assert ends.wait() == (job, "exit code 2")  # the training command's "unusable input"
    record = json.loads((roots["models"] / "runs" / "run-1.json").read_text())
    assert (record["run_id"], record["trigger"], record["status"]) == (
        "run-1",
        "api",
        "rejected_input",
    )
    assert record["job"]["pid"] == job["pid"]
    assert record["error"] == f"{snapshot}: no such file"


def test_a_training_process_that_dies_is_reported_at_once(
    runner: LocalRunner, ends: Ends, roots: dict[str, Path], sample_csv: bytes
) -> None:
    snapshot = roots["data"] / "snapshots" / "sample.csv"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(sample_csv)
    job = runner.start(snapshot.as_uri(), "run-2", "ingestion")
    command = Path(f"/proc/{job['pid']}/cmdline").read_bytes().split(b"\0")
    assert command[1:] == [
        b"-m",
        b"training",
        snapshot.as_uri().encode(),
        b"--run-id",
        b"run-2",
        b"--trigger",
        b"ingestion",
        b"",
    ]
    assert runner.ended(job) is None
    assert runner.ended({**job, "run_id": "another-run"}) == GONE
    os.kill(job["pid"], signal.SIGKILL)
    assert ends.wait() == (job, "signal SIGKILL")
    assert runner.ended(job) == GONE


def test_a_job_whose_process_is_gone_or_is_another_program_has_ended(runner: LocalRunner) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    here = {"runner": "local", "host": socket.gethostname(), "run_id": "run-3"}
    assert runner.ended({**here, "pid": finished.pid}) == GONE
    assert runner.ended({**here, "pid": os.getpid()}) == GONE  # alive, but not training run-3


@pytest.mark.parametrize(
    "job",
    [
        {"runner": "vertex", "name": "projects/p/locations/l/customJobs/1"},
        {"runner": "local", "host": "another-machine", "pid": 1, "run_id": "run-4"},
        {"runner": "local", "host": socket.gethostname(), "pid": "not a pid", "run_id": "run-4"},
        {"runner": "local", "host": socket.gethostname(), "run_id": "run-4"},
    ],
)
def test_a_job_this_runner_cannot_see_is_not_said_to_have_ended(
    runner: LocalRunner, job: dict
) -> None:
    assert runner.ended(job) is None
