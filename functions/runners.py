"""Training runners: where a training job runs. Locally a subprocess of `python -m training`;
in GCP a Vertex AI custom job running the training image (functions/vertex.py).

A runner only starts jobs and says how they are doing; which run may start, and when, is the
training schedule's business (training/schedule.py, functions/retraining.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from functions.settings import ServiceSettings


class RunnerError(RuntimeError):
    """A training job could not be started; the message is one line, fit for an API answer.

    `status` is the HTTP status the runner's API answered with, None when it was not reached.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


JobEnded = Callable[[dict, str], None]
"""Called with a job and how it ended, when a runner sees one of its jobs end."""


class Runner(Protocol):
    start_grace: float
    """Seconds a started job may take to send the run's first heartbeat."""

    def start(self, snapshot_uri: str, run_id: str, trigger: str, stones: int = 0) -> dict:
        """Start training on a snapshot of so many stones; returns what identifies the job."""
        ...

    def ended(self, job: dict) -> str | None:
        """How the job ended if it ended without finishing its run, else None (running, or
        unknown to this runner)."""
        ...


_children: list[subprocess.Popen] = []
"""Every training process this process started, so that stopping the local stack stops them."""
_stopping = threading.Event()


def stop_children() -> None:
    """Stop every training process this process started, and start no more."""
    _stopping.set()
    for process in _children:
        if process.poll() is None:
            process.terminate()
    for process in _children:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class LocalRunner:
    """Runs `python -m training` as a child process (the container's entrypoint, uncontained).

    A thread waits for each child, so that a finished process is reaped at once and a process
    that dies mid-run is reported to `on_end` without waiting for its lease to lapse. The child
    shares the machine with the functions, so LightGBM's OpenMP threads sleep rather than spin
    while they wait (OMP_WAIT_POLICY, unless set).
    """

    start_grace = 120.0

    def __init__(self, settings: ServiceSettings, on_end: JobEnded | None = None) -> None:
        self.settings = settings
        self.on_end = on_end

    def start(self, snapshot_uri: str, run_id: str, trigger: str, stones: int = 0) -> dict:
        if _stopping.is_set():
            raise RunnerError("the local stack is stopping: no training starts now")
        env = {
            "OMP_WAIT_POLICY": "PASSIVE",
            **os.environ,
            **self.settings.training_environment(),
        }
        command = [sys.executable, "-m", "training", snapshot_uri, "--run-id", run_id]
        process = subprocess.Popen(
            [*command, "--trigger", trigger],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _children[:] = [p for p in _children if p.poll() is None] + [process]
        job = {
            "runner": "local",
            "host": socket.gethostname(),
            "pid": process.pid,
            "run_id": run_id,
        }
        threading.Thread(
            target=self._wait, args=(process, job), name=f"training-{process.pid}", daemon=True
        ).start()
        return job

    def _wait(self, process: subprocess.Popen, job: dict) -> None:
        code = process.wait()
        if self.on_end is not None:
            self.on_end(job, exit_description(code))

    def ended(self, job: dict) -> str | None:
        """A job of this machine whose process is gone (the stack was killed with it): no
        process with its pid is training its run any more."""
        if job.get("runner") != "local" or job.get("host") != socket.gethostname():
            return None
        try:
            command = Path(f"/proc/{int(job['pid'])}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return "its training process is gone"
        except (OSError, ValueError, KeyError):
            return None
        if b"training" not in command or str(job.get("run_id", "")).encode() not in command:
            return "its training process is gone"
        return None


def same_process(job: dict) -> Callable[[dict], bool]:
    """Recognises the schedule's record of a local job (the training process adds to it)."""
    return lambda held: held.get("host") == job["host"] and held.get("pid") == job["pid"]
