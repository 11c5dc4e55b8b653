"""Single-flight training: at most one training run at a time per MODELS root.

`schedule.json` at the MODELS root names the run holding the training slot (`current`) and the
one follow-up run that requests arriving meanwhile coalesce into (`next`). Every change to it is
a compare-and-swap on the storage, so the rule holds across processes and machines: the API, the
ingestion function, the command line and the training job all go through it.

The process training the current run renews its lease (a heartbeat). A run whose lease lapses is
marked failed by whoever looks next, and the slot is free again. The process that finishes a run
takes the follow-up, if one is queued, and trains it too; a follow-up left waiting on a free slot
(its predecessor died) is started by the next request for training, or by whoever notices.

A run whose training process died is retried once: a follow-up run on the same snapshot is
queued, unless a follow-up is already waiting (it trains a newer snapshot) or the run was itself
a retry. Both records say so (`retried_by`, `retry_of`), so the stones a dead run was to learn
from are trained on without anyone asking again.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from training.registry import Registry, new_run_id, now_utc
from training.statuses import ACTIVE, RunStatus
from training.storage import NotFound

log = logging.getLogger("diamonds.schedule")
SCHEDULE = "schedule.json"
HEARTBEAT_SECONDS = 10.0
LEASE_SECONDS = 45.0
"""A running run that has not renewed its lease for this long is considered dead."""
REQUEST_FIELDS = ("trigger", "reason", "requested_by", "snapshot", "rows")
RETRY = "retry"
"""The trigger of a run that retries one whose training process died."""
_SWAP_ATTEMPTS = 200
STOPPED = "the training process stopped without finishing"
"""Why a run found active but no longer in flight failed, as whoever reads it notes it."""

T = TypeVar("T")


class SlotLost(RuntimeError):
    """The run no longer holds the training slot (its lease lapsed and it was marked failed)."""


@dataclass(frozen=True)
class Ticket:
    """The answer to a request for training."""

    action: Literal["start", "queued"]
    """start: the slot is the caller's, it must start the job; queued: a run is in progress and
    the request joined the follow-up run, which starts when that run ends."""
    run: dict
    """The run the request became part of (the schedule's entry for it)."""
    behind: str | None
    """The run in progress that a queued run waits for."""
    coalesced: bool
    """Whether the request joined a follow-up that earlier requests had already asked for."""


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _retry(state: dict, failed: dict) -> str | None:
    """Queue a follow-up run on the failed run's snapshot, unless one is queued (it trains a
    newer snapshot), the run was a retry itself, or it had no snapshot; the run retrying it."""
    waiting = state["next"]
    if waiting is not None:
        return waiting["run_id"]
    if failed.get("retry_of") or not failed.get("snapshot"):
        return None
    asked = {key: failed.get(key) for key in REQUEST_FIELDS}
    asked.update(
        trigger=RETRY,
        reason=f"retry of run {failed['run_id']}, whose training process died",
        requested_at=now_utc(),
    )
    entry = {
        "run_id": new_run_id(),
        "queued_at": now_utc(),
        **{key: asked[key] for key in REQUEST_FIELDS},
        "requests": [asked],
        "retry_of": failed["run_id"],
    }
    state["next"] = entry
    return entry["run_id"]


def _failed(record: dict, error: str) -> dict:
    return {**record, "status": RunStatus.FAILED, "error": error, "finished_at": now_utc()}


def run_record(entry: dict, **fields: Any) -> dict:
    """A run record made from a schedule entry: what was asked, and `fields`."""
    record = {
        key: entry[key]
        for key in ("run_id", *REQUEST_FIELDS, "requests", "queued_at", "job", "retry_of")
        if entry.get(key) is not None
    }
    return {**record, **fields}


class Schedule:
    """The training slot of one MODELS root (see the module's docstring)."""

    def __init__(
        self,
        registry: Registry,
        *,
        lease: float = LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.lease = lease
        self.clock = clock

    # -- state --------------------------------------------------------------------------------
    def state(self) -> dict:
        """{"current": entry | None, "next": entry | None} as stored (lapsed leases included)."""
        return self._read()[0]

    def _read(self) -> tuple[dict, str | None]:
        storage = self.registry.storage
        try:
            data, token = storage.read_with_token(SCHEDULE)
        except NotFound:
            return {"current": None, "next": None}, None
        return json.loads(data), token

    def _update(self, change: Callable[[dict, float], T]) -> T:
        """Apply `change(state, now)` and store the result by compare-and-swap, again on a
        conflict. Runs that lost their lease are failed first (and retried once); their records
        are written once the new state is stored."""
        for _ in range(_SWAP_ATTEMPTS):
            state, token = self._read()
            before = json.dumps(state, sort_keys=True)
            now = self.clock()
            expired = self._expire(state, now)
            result = change(state, now)
            after = json.dumps(state, sort_keys=True)
            if after == before or self.registry.storage.write_if_unchanged(
                SCHEDULE, json.dumps(state, indent=2).encode(), token
            ):
                for entry, error, retry in expired:
                    self._fail_record(entry, error, retry)
                return result
            time.sleep(random.uniform(0.005, 0.05))
        raise RuntimeError(f"{SCHEDULE} kept changing: gave up after {_SWAP_ATTEMPTS} attempts")

    def _expire(self, state: dict, now: float) -> list[tuple[dict, str, str | None]]:
        current = state["current"]
        if current is None or current["lease_until"] >= now:
            return []
        state["current"] = None
        if current.get("heartbeat_at"):
            error = f"no heartbeat since {_iso(current['heartbeat_at'])}: the training process died"
            return [(current, error, _retry(state, current))]
        error = "the training job never started (no heartbeat before its lease lapsed)"
        return [(current, error, None)]

    def _fail_record(self, entry: dict, error: str, retry: str | None = None) -> None:
        """Mark a run failed, keeping what its record says, unless it already ended; `retry`
        names the run that retries it. Called by whoever freed the run's slot, once the slot is
        free: a reader may have noted the run STOPPED meanwhile, which this failure, the one
        that says why and names the retry, replaces."""
        try:
            record = self.registry.run(entry["run_id"])
        except LookupError:
            record = run_record(entry)
        noted = record.get("status") == RunStatus.FAILED and record.get("error") == STOPPED
        if record.get("status") in ACTIVE or "status" not in record or noted:
            failed = _failed(record, error)
            if retry is not None:
                failed["retried_by"] = retry
            self.registry.save_run(failed)
        if retry is not None:
            log.warning(
                "training run %s failed (%s); run %s retries it", entry["run_id"], error, retry
            )

    # -- asking for training -------------------------------------------------------------------
    def request(self, request: dict, *, grace: float) -> Ticket:
        """Ask for a run on `request["snapshot"]` (with its trigger, reason, requested_by, rows).

        When the slot is free the run takes it, with `grace` seconds for the job to start and
        send its first heartbeat, and the caller must start the job (then call `started`).
        Otherwise the request joins the follow-up run, whose snapshot becomes this newest one.
        """
        asked = {key: request.get(key) for key in REQUEST_FIELDS}
        asked["requested_at"] = now_utc()

        def change(state: dict, now: float) -> Ticket:
            waiting = state["next"]
            entry = waiting or {"run_id": new_run_id(), "queued_at": now_utc(), "requests": []}
            entry = {**entry, **asked, "requests": [*entry["requests"], asked]}
            entry.pop("requested_at")
            entry["trigger"] = entry["requests"][0]["trigger"]
            current = state["current"]
            if current is None:
                state["current"] = {**entry, "lease_until": now + grace, "job": None}
                state["next"] = None
                return Ticket("start", state["current"], None, waiting is not None)
            state["next"] = entry
            return Ticket("queued", entry, current["run_id"], waiting is not None)

        ticket = self._update(change)
        if ticket.action == "start":
            self.registry.save_run(run_record(ticket.run, status=RunStatus.QUEUED))
        return ticket

    def started(self, run_id: str, job: dict) -> None:
        """Record the job a launcher started for the current run."""

        def change(state: dict, now: float) -> None:
            if state["current"] and state["current"]["run_id"] == run_id:
                state["current"]["job"] = job

        self._update(change)
        try:
            record = self.registry.run(run_id)
        except LookupError:
            return
        if record.get("status") == RunStatus.QUEUED:
            self.registry.save_run({**record, "job": job})

    def abandon(self, run_id: str, error: str, *, died: bool = False) -> None:
        """Fail the current run `run_id` and free the slot: its job could not start, or (`died`)
        its training process died, and then it is retried once."""

        def change(state: dict, now: float) -> tuple[dict, str | None] | None:
            current = state["current"]
            if current is None or current["run_id"] != run_id:
                return None
            state["current"] = None
            return current, _retry(state, current) if died else None

        abandoned = self._update(change)
        if abandoned is not None:
            self._fail_record(abandoned[0], error, abandoned[1])

    def resume(self, *, grace: float) -> dict | None:
        """Give a free slot to the follow-up run left waiting on it (its predecessor died);
        returns its entry, whose job the caller must start, or None."""

        def change(state: dict, now: float) -> dict | None:
            if state["current"] is not None or state["next"] is None:
                return None
            state["current"] = {**state["next"], "lease_until": now + grace, "job": None}
            state["next"] = None
            return dict(state["current"])

        entry = self._update(change)
        if entry is not None:
            self.registry.save_run(run_record(entry, status=RunStatus.QUEUED))
        return entry

    def holder(self, job_matches: Callable[[dict], bool]) -> str | None:
        """The current run, if its job is the one `job_matches` recognises."""
        current = self.state()["current"]
        if current and current.get("job") and job_matches(current["job"]):
            return current["run_id"]
        return None

    # -- training -----------------------------------------------------------------------------
    def begin(self, run_id: str, job: dict, request: dict | None = None) -> dict:
        """The training process of `run_id` starts: renew its lease, note its process.

        A run started without asking the schedule (a job launched by hand) takes the slot if
        it is free, with `request` as what asked for it. Returns the run's entry; raises
        SlotLost if another run holds the slot.
        """

        def change(state: dict, now: float) -> dict | None:
            current = state["current"]
            if current is None:
                current = state["current"] = {"run_id": run_id, "queued_at": now_utc()}
                current.update(request or {})
            elif current["run_id"] != run_id:
                return None
            current["job"] = {**(current.get("job") or {}), **job}
            current.update(lease_until=now + self.lease, heartbeat_at=now)
            return dict(current)

        entry = self._update(change)
        if entry is None:
            raise SlotLost(f"run {run_id} cannot train: another run holds the training slot")
        return entry

    def acquire(self, request: dict, job: dict) -> dict | None:
        """Take the slot for a new run now, if it is free (a person's `diamonds train`)."""

        def change(state: dict, now: float) -> dict | None:
            if state["current"] is not None:
                return None
            entry = {"run_id": new_run_id(), "queued_at": now_utc(), **request, "job": job}
            entry.update(lease_until=now + self.lease, heartbeat_at=now)
            state["current"] = entry
            return dict(entry)

        return self._update(change)

    def heartbeat(self, run_id: str) -> bool:
        """Renew the lease of `run_id`; False if it no longer holds the slot."""

        def change(state: dict, now: float) -> bool:
            current = state["current"]
            if current is None or current["run_id"] != run_id:
                return False
            current.update(lease_until=now + self.lease, heartbeat_at=now)
            return True

        return self._update(change)

    def finish(self, run_id: str) -> dict | None:
        """Release the slot after `run_id` ended; the follow-up run, if any, takes it in the same
        process and is returned (its entry), for the caller to train next."""

        def change(state: dict, now: float) -> dict | None:
            current = state["current"]
            if current is None or current["run_id"] != run_id:
                return None
            follow_up = state["next"]
            state["next"] = None
            if follow_up is None:
                state["current"] = None
                return None
            state["current"] = {
                **follow_up,
                "job": current.get("job"),
                "lease_until": now + self.lease,
                "heartbeat_at": now,
            }
            return dict(state["current"])

        return self._update(change)

    @contextmanager
    def heartbeats(
        self, run_id: Callable[[], str], every: float = HEARTBEAT_SECONDS
    ) -> Iterator[threading.Event]:
        """Renew the lease of the run `run_id()` names every `every` seconds in a background
        thread. The event yielded is set when the slot was lost."""
        stop, lost = threading.Event(), threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                try:
                    if not self.heartbeat(run_id()):
                        lost.set()
                except Exception:  # a storage hiccup: the next beat tries again
                    continue

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            stop.set()
            thread.join()

    # -- looking --------------------------------------------------------------------------------
    def reconcile(self) -> dict:
        """The state after failing a current run whose lease lapsed."""
        return self._update(lambda state, now: copy.deepcopy(state))

    def run(self, run_id: str) -> dict:
        """A run's record; a run still waiting for its turn has none yet and is described from
        its entry. A run that is not really in flight any more is marked failed first."""
        state = self.reconcile()
        try:
            record, token = self.registry.run_with_token(run_id)
        except LookupError:
            entry = next((e for e in state.values() if e and e["run_id"] == run_id), None)
            if entry is None:
                raise
            waits = entry is state["next"] and state["current"] is not None
            return run_record(
                entry, status=RunStatus.QUEUED, behind=state["current"]["run_id"] if waits else None
            )
        in_flight = {entry["run_id"] for entry in state.values() if entry}
        if record.get("status") in ACTIVE and run_id not in in_flight:
            return self._fail_stopped(record, token)
        return record

    def _fail_stopped(self, record: dict, token: str) -> dict:
        """Fail a run found active though not in flight, unless its record changed since it
        was read (`token`): the process that freed its slot writes why it ended right after."""
        failed = _failed(record, STOPPED)
        if self.registry.save_run_if_unchanged(failed, token):
            return failed
        return self.registry.run(record["run_id"])

    def runs(self) -> list[str]:
        """Every run id: those with records, and the follow-up still waiting for the slot."""
        waiting = self.state()["next"]
        ids = set(self.registry.runs()) | ({waiting["run_id"]} if waiting else set())
        return sorted(ids)
