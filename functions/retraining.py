"""Asking for training runs, from the API or after an ingestion: snapshot the inventory, then
take the training slot (and start the job) or join the follow-up run (training/schedule.py).

`Retraining` is given what it works with (the inventory, the DATA root, the schedule, the
settings that choose the runner) and makes its runner itself, so that the runner's end-of-job
report comes back here, wired in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from functions.runners import LocalRunner, Runner, RunnerError, same_process
from functions.settings import ServiceSettings
from training.schedule import Schedule, Ticket
from training.statuses import RunStatus
from training.storage import Storage

if TYPE_CHECKING:
    from functions.database import Inventory

log = logging.getLogger("diamonds.retraining")


class NothingToTrain(LookupError):
    """The inventory holds no priced stone."""


class JobNotStarted(RuntimeError):
    """The runner could not start the training job; the run was marked failed."""


def make_runner(settings: ServiceSettings, on_end: Callable[[dict, str], None]) -> Runner:
    """The runner the settings name: a local child process, or a Vertex AI custom job."""
    if settings.training_runner == "vertex":
        from functions.vertex import VertexRunner

        return VertexRunner(settings)
    return LocalRunner(settings, on_end)


class Retraining:
    def __init__(
        self,
        inventory: Inventory,
        data: Storage,
        schedule: Schedule,
        settings: ServiceSettings,
    ) -> None:
        self.inventory, self.data, self.schedule, self.settings = (
            inventory,
            data,
            schedule,
            settings,
        )
        self._runner: Runner | None = None

    @property
    def runner(self) -> Runner:
        """Made on first use; a misconfigured one (a setting missing) starts nothing."""
        if self._runner is None:
            try:
                self._runner = make_runner(self.settings, self.job_ended)
            except ValueError as exc:
                raise JobNotStarted(str(exc)) from None
        return self._runner

    def snapshot(self) -> tuple[str, int]:
        """Write the priced inventory as a snapshot (training/snapshots.py: the parts that
        changed, and a manifest); its URI and number of stones."""
        from training.snapshots import PART_IDS, write_snapshot

        key, rows = write_snapshot(self.data, self.inventory.priced_parts(PART_IDS))
        if key is None:
            raise NothingToTrain("the inventory holds no priced stone")
        return self.data.url_for(key), rows

    def request(self, *, trigger: str, reason: str, caller: str) -> dict:
        """Snapshot the inventory and ask for a run on it. Returns what to tell the caller: the
        run, whether it joined a follow-up run, the run it waits for and the job started."""
        runner = self.runner
        uri, rows = self.snapshot()
        self.follow_jobs()
        request = {"trigger": trigger, "reason": reason, "requested_by": caller}
        ticket = self.schedule.request(
            {**request, "snapshot": uri, "rows": rows}, grace=runner.start_grace
        )
        job = self.start(ticket.run) if ticket.action == "start" else None
        return answer(ticket, job)

    def start(self, entry: dict) -> dict:
        """Start the job of a run that holds the slot; if it cannot start, the run fails and
        the slot is free again."""
        try:
            job = self.runner.start(
                entry["snapshot"], entry["run_id"], entry["trigger"], entry["rows"]
            )
        except (RunnerError, ValueError) as exc:
            self.schedule.abandon(entry["run_id"], f"the training job could not start: {exc}")
            raise JobNotStarted(str(exc)) from exc
        self.schedule.started(entry["run_id"], job)
        return job

    def follow_jobs(self) -> None:
        """Fail the current run if the runner says its job ended without finishing it (a
        Vertex AI job that failed before its container could report, a local process killed
        with the stack); the schedule retries it once."""
        current = self.schedule.state()["current"]
        if current and current.get("job"):
            ended = self.runner.ended(current["job"])
            if ended is not None:
                self.schedule.abandon(current["run_id"], ended, died=True)

    def resume(self) -> dict | None:
        """Start the follow-up run left waiting on a free slot (its predecessor died), if
        any."""
        self.follow_jobs()
        entry = self.schedule.resume(grace=self.runner.start_grace)
        if entry is None:
            return None
        log.info("starting run %s, which was waiting for the training slot", entry["run_id"])
        return self.start(entry)

    def job_ended(self, job: dict, how: str) -> None:
        """A local training process ended: if it still held the slot, it died mid-run; fail
        its run at once and start the follow-up run waiting for it."""
        run_id = self.schedule.holder(same_process(job))
        if run_id is None:
            return
        log.warning("training run %s: its process ended (%s) before finishing", run_id, how)
        self.schedule.abandon(
            run_id, f"the training process ended ({how}) before finishing", died=True
        )
        try:
            self.resume()
        except JobNotStarted as exc:
            log.warning("the waiting training run could not start: %s", exc)


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
