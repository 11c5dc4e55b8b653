"""A training process: it takes the MODELS root's training slot (docs/design.md: one run at a
time), trains its run, then every follow-up run queued meanwhile, in this same process, renewing
its lease all along, and gives the slot back however it ends. `diamonds train`, the container's
`python -m training` and the local runner's child all train through `train`.

A run asked for by ingestion or the API keeps the champion's recipe (its parameters), so that a
tuned model stays tuned. A polite kill (SIGTERM) stops a run as Ctrl-C does: recorded as failed,
the slot released.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from training.config import TrainingSettings
from training.job import TrainingRun
from training.params import ModelParams
from training.registry import Registry
from training.schedule import Schedule, run_record
from training.storage import open_storage

WAIT_SECONDS = 2.0


def train(
    settings: TrainingSettings,
    inputs: list[str],
    *,
    params: ModelParams,
    params_given: bool,
    run_id: str | None,
    trigger: str,
    say: Callable[[str], None],
) -> None:
    """Train `inputs` as run `run_id` (a run the schedule started), or as a new run once the
    slot is free, then the follow-ups. Raises what made the run asked for fail; a follow-up's
    failure is told and recorded, and the next one still trains."""
    data, models = open_storage(settings.data_root), open_storage(settings.models_root)
    signal.signal(signal.SIGTERM, _interrupt)
    schedule = Schedule(Registry(models))
    if run_id is not None and not params_given:
        params = schedule.registry.champion_params() or params
    job = {"host": socket.gethostname(), "pid": os.getpid()}
    request = {
        "trigger": trigger,
        "inputs": inputs,
        "requested_by": f"cli:{getpass.getuser()}@{job['host']}",
    }
    if run_id is not None:
        entry = schedule.begin(run_id, job, request)
    else:
        entry = _wait_for_slot(schedule, request, job, say)
    asked_for = entry["run_id"]
    training = {"run_id": asked_for}
    failure: Exception | None = None
    with schedule.heartbeats(lambda: training["run_id"]) as lost:
        while entry is not None:
            training["run_id"] = entry["run_id"]
            run = TrainingRun(
                data,
                models,
                params=params,
                tolerance=settings.gate_tolerance,
                run_id=entry["run_id"],
                trigger=entry.get("trigger", trigger),
                request=run_record(entry),
                cancelled=lost,
                log=say,
            )
            try:
                record = run.run(inputs)
                decision = record["gate"]["decision"]
                say(f"run {record['run_id']}: model {record['version']} {decision}")
            except KeyboardInterrupt:
                schedule.abandon(entry["run_id"], "interrupted: the training process was stopped")
                raise
            except Exception as exc:
                if entry["run_id"] == asked_for:
                    failure = exc
                else:
                    print(f"run {entry['run_id']} failed: {exc}", file=sys.stderr)
            entry = schedule.finish(entry["run_id"])
            if entry is not None:
                say(f"run {entry['run_id']} was queued meanwhile: training it now")
                inputs = [entry["snapshot"]]
    if failure is not None:
        raise failure


def _wait_for_slot(
    schedule: Schedule, request: dict, job: dict, say: Callable[[str], None]
) -> dict:
    """Take the training slot, waiting while another run holds it."""
    waiting_for = None
    while (entry := schedule.acquire(request, job)) is None:
        current = (schedule.state()["current"] or {}).get("run_id")
        if current != waiting_for:
            say(f"waiting for training run {current} to finish…")
            waiting_for = current
        time.sleep(WAIT_SECONDS)
    return entry


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
