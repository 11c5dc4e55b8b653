"""Asking for a training run, from the API or after an ingestion: snapshot the inventory, then
take the training slot (and start the job) or join the follow-up run (training/schedule.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from training.schedule import Ticket
from training.statuses import RunStatus

if TYPE_CHECKING:
    from functions.instance import Instance
    from functions.runners import Runner

log = logging.getLogger("diamonds.retraining")


class NothingToTrain(LookupError):
    """The inventory holds no priced stone."""


class JobNotStarted(RuntimeError):
    """The runner could not start the training job; the run was marked failed."""


def snapshot(instance: Instance) -> tuple[str, int]:
    """Write the priced inventory as a snapshot (training/snapshots.py: the parts that changed,
    and a manifest); its URI and number of stones."""
    from training.snapshots import PART_IDS, write_snapshot

    key, rows = write_snapshot(instance.data, instance.inventory.priced_parts(PART_IDS))
    if key is None:
        raise NothingToTrain("the inventory holds no priced stone")
    return instance.data.url_for(key), rows


def request_training(instance: Instance, *, trigger: str, reason: str, caller: str) -> dict:
    """Snapshot the inventory and ask for a run on it. Returns what to tell the caller: the
    run, whether it joined a follow-up run, the run it waits for and the job started."""
    runner = runner_of(instance)
    uri, rows = snapshot(instance)
    follow_jobs(instance)
    request = {"trigger": trigger, "reason": reason, "requested_by": caller}
    ticket = instance.schedule.request(
        {**request, "snapshot": uri, "rows": rows}, grace=runner.start_grace
    )
    job = start(instance, ticket.run) if ticket.action == "start" else None
    return answer(ticket, job)


def runner_of(instance: Instance) -> Runner:
    """The instance's runner; a misconfigured one (a setting missing) starts nothing."""
    try:
        return instance.runner
    except ValueError as exc:
        raise JobNotStarted(str(exc)) from None


def answer(ticket: Ticket, job: dict | None) -> dict:
    run_id = ticket.run["run_id"]
    return {
        "run_id": run_id,
        "status": RunStatus.QUEUED,
        "status_url": f"/v1/runs/{run_id}",
        "snapshot": ticket.run["snapshot"],
        "rows": ticket.run["rows"],
        "coalesced": ticket.coalesced,
        "running": ticket.behind,
        "job": job,
    }


def start(instance: Instance, entry: dict) -> dict:
    """Start the job of a run that holds the slot; if it cannot start, the run fails and the
    slot is free again."""
    from functions.runners import RunnerError

    try:
        runner = runner_of(instance)
        job = runner.start(entry["snapshot"], entry["run_id"], entry["trigger"], entry["rows"])
    except (RunnerError, ValueError) as exc:
        instance.schedule.abandon(entry["run_id"], f"the training job could not start: {exc}")
        raise JobNotStarted(str(exc)) from exc
    instance.schedule.started(entry["run_id"], job)
    return job


def follow_jobs(instance: Instance) -> None:
    """Fail the current run if the runner says its job ended without finishing it (a Vertex AI
    job that failed before its container could report, a local process killed with the stack);
    the schedule retries it once."""
    current = instance.schedule.state()["current"]
    if current and current.get("job"):
        ended = runner_of(instance).ended(current["job"])
        if ended is not None:
            instance.schedule.abandon(current["run_id"], ended, died=True)


def resume(instance: Instance) -> dict | None:
    """Start the follow-up run left waiting on a free slot (its predecessor died), if any."""
    follow_jobs(instance)
    entry = instance.schedule.resume(grace=runner_of(instance).start_grace)
    if entry is None:
        return None
    log.info("starting run %s, which was waiting for the training slot", entry["run_id"])
    return start(instance, entry)


def job_ended(instance: Instance, job: dict, how: str) -> None:
    """A local training process ended: if it still held the slot, it died mid-run; fail its
    run at once and start the follow-up run waiting for it."""
    from functions.runners import same_process

    run_id = instance.schedule.holder(same_process(job))
    if run_id is None:
        return
    log.warning("training run %s: its process ended (%s) before finishing", run_id, how)
    instance.schedule.abandon(
        run_id, f"the training process ended ({how}) before finishing", died=True
    )
    try:
        resume(instance)
    except JobNotStarted as exc:
        log.warning("the waiting training run could not start: %s", exc)
