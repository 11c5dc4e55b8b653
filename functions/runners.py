"""Training runners: where a retraining job runs. Locally a subprocess of `python -m training`;
in GCP a Vertex AI custom job running the training image (functions/vertex.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Protocol

from functions.config import ServiceSettings


class Runner(Protocol):
    def start(self, snapshot_uri: str, run_id: str, trigger: str) -> dict:
        """Start training on a snapshot; returns what identifies the job."""
        ...


_children: list[subprocess.Popen] = []
"""Every training process this process started, so that stopping the local stack stops them."""


def stop_children() -> None:
    for process in _children:
        if process.poll() is None:
            process.terminate()
    for process in _children:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class LocalRunner:
    """Runs `python -m training` as a child process (the container's entrypoint, uncontained)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings

    def start(self, snapshot_uri: str, run_id: str, trigger: str) -> dict:
        env = {
            **os.environ,
            "DIAMONDS_DATA_ROOT": self.settings.data_root,
            "DIAMONDS_MODELS_ROOT": self.settings.models_root,
        }
        command = [
            sys.executable,
            "-m",
            "training",
            snapshot_uri,
            "--run-id",
            run_id,
            "--trigger",
            trigger,
        ]
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _children[:] = [p for p in _children if p.poll() is None] + [process]
        return {"runner": "local", "pid": process.pid}


def make_runner(settings: ServiceSettings) -> Runner:
    if settings.training_runner == "vertex":
        from functions.vertex import VertexRunner

        return VertexRunner(settings)
    return LocalRunner(settings)
