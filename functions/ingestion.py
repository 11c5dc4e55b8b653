"""The `ingest` function: a data file finalized under incoming/ becomes inventory, and the model
retrains on it; a data file deleted takes its stones away.

For each Cloud Storage "object finalized" CloudEvent (as Eventarc delivers it): read that
generation of the object → validate it with the training job's own rules → quarantine the
rejected rows with their reasons → make its accepted stones what the object brings to the
inventory, replacing what its previous generation brought → score the champion on them (its
error on fresh appraisals) → ask for a training run. For an "object deleted" event whose object
is gone: withdraw the stones it brought, and ask for a run. The ledger (`ingested_files`, keyed
by bucket/name#generation and the event) records each step, so that a redelivery of the same
event changes nothing, and a delivery that died mid-way is taken over where it stopped: it
renews its lease while it works, so a lease lapses soon after its delivery died.

What Eventarc should do next is the HTTP status: 2xx when the event is dealt with or is none of
ours (no retry), 409 while another delivery holds the file, 503 on a transient failure.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.statuses import FileEvent, FileStatus

if TYPE_CHECKING:
    import pandas as pd

    from functions.database import Claim, IngestedFiles
    from functions.instance import Instance

log = logging.getLogger("diamonds.ingest")

FINALIZED = "google.cloud.storage.object.v1.finalized"
DELETED = "google.cloud.storage.object.v1.deleted"
MONITORING_CHECK = "diamonds.monitoring.check.v1"
"""The event of the daily monitoring check (infra/: Cloud Scheduler, through Pub/Sub)."""
INCOMING = "incoming/"
TEMPORARY = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", "~")
"""Endings of names that copying tools give a file until it is whole: never a data file."""


def is_data_file(key: str) -> bool:
    """Whether an object under incoming/ is a data file: not a folder, a hidden file or one
    whose name says it is still being copied (TEMPORARY)."""
    name = key.rpartition("/")[2]
    return bool(name) and not name.startswith(".") and not name.lower().endswith(TEMPORARY)


class StorageObject(BaseModel):
    """The part of the Cloud Storage object resource (the event's data) that ingestion reads."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    bucket: str = Field(min_length=1, max_length=1024)
    name: str = Field(min_length=1, max_length=1024)
    generation: str = Field(pattern=r"^[0-9]{1,30}$")


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery: `status` for Eventarc, `message` for the log."""

    status: int
    message: str

    @property
    def retry(self) -> bool:
        return self.status >= 300


def ingest(instance: Instance, event_type: str | None, data: Any) -> Outcome:
    """Deal with one CloudEvent (its type and data); never raises."""
    found = _object(instance, event_type, data)
    if isinstance(found, Outcome):
        return found
    key, obj = found
    event = FileEvent.DELETED if event_type == DELETED else FileEvent.FINALIZED
    where = f"{obj.name}#{obj.generation}" + (" (deleted)" if event == FileEvent.DELETED else "")
    lease = instance.settings.ingest_lease_seconds
    try:
        claim = instance.ledger.claim(obj.bucket, obj.name, obj.generation, lease, event)
        if claim is None:
            row = instance.ledger.get(obj.bucket, obj.name, obj.generation, event) or {}
            if row.get("status") == FileStatus.PROCESSING:
                return Outcome(
                    409, f"{where}: another delivery holds it until {row['lease_until']}"
                )
            return Outcome(200, f"{where}: already {row.get('status')}, nothing to do")
    except Exception as exc:
        return _failed(where, exc)
    try:
        with renewing(instance.ledger, claim, lease):
            if event == FileEvent.DELETED:
                return _withdraw(instance, key, claim, where)
            return _ingest(instance, key, claim, where)
    except Exception as exc:
        from functions.database import LostClaim

        if isinstance(exc, LostClaim):
            return Outcome(409, f"{where}: {exc}")
        # If the database is gone too, the lease lapses and a redelivery takes over.
        with contextlib.suppress(Exception):
            instance.ledger.finish(claim, FileStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        return _failed(where, exc)


@contextlib.contextmanager
def renewing(ledger: IngestedFiles, claim: Claim, lease: float) -> Iterator[None]:
    """Renew the claim's lease every quarter of it while the delivery works, so that only a
    delivery that died leaves a lease to lapse, and another takes over soon after."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease / 4):
            try:
                ledger.renew(claim, lease)
            except Exception as exc:  # lost, or the database is away: the work will find out
                log.warning(
                    "%s#%s: the lease could not be renewed: %s", claim.name, claim.generation, exc
                )

    thread = threading.Thread(target=renew, name="ingest-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _object(
    instance: Instance, event_type: str | None, data: Any
) -> tuple[str, StorageObject] | Outcome:
    """The key under the DATA root of the object the event is about, or why it is ignored."""
    if event_type not in (FINALIZED, DELETED):
        return Outcome(200, f"ignored: event type {event_type!r} is not {FINALIZED} or {DELETED}")
    if isinstance(data, bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            return Outcome(200, "ignored: the event's data is not a JSON object")
    try:
        obj = StorageObject.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        return Outcome(200, f"ignored: not a storage object ({problems})")
    key = instance.data.key_of(obj.bucket, obj.name)
    if key is None:
        return Outcome(200, f"ignored: {obj.bucket}/{obj.name} is not under the DATA root")
    if not key.startswith(INCOMING):
        return Outcome(200, f"ignored: {key} is not under {INCOMING}")
    if not is_data_file(key):
        return Outcome(200, f"ignored: {key} is a folder, hidden, or still being copied")
    return key, obj


def _failed(where: str, exc: Exception) -> Outcome:
    """A 503, so that Eventarc delivers the event again. A failure that is not a known outage
    (a database or a bucket out of reach) is logged with its traceback: it may be a bug."""
    if not transient(exc):
        log.error("ingest %s: unexpected failure", where, exc_info=exc)
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    return Outcome(503, f"{where}: {type(exc).__name__}: {reason}; the delivery will be retried")


def transient(exc: BaseException) -> bool:
    """Whether the failure is an outage of something ingestion depends on (worth a retry)."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from functions.http.problems import Unavailable

    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | OSError | Unavailable):
        return True
    module = type(exc).__module__
    if module.startswith("google.api_core"):  # RetryError: retried in vain on transient errors
        retried = type(exc).__name__ == "RetryError"
        return retried or getattr(exc, "code", None) in (408, 429, 500, 502, 503, 504)
    return module.startswith(("requests", "urllib3"))


def _ingest(instance: Instance, key: str, claim: Claim, where: str) -> Outcome:
    from training.checksums import sha256
    from training.quarantine import write_quarantine
    from training.storage import NotFound
    from training.validation import UnusableFile, read_records

    ledger, storage = instance.ledger, instance.data
    try:
        data = storage.read_generation(key, claim.generation)
    except NotFound:
        gone = (
            "that generation no longer exists (replaced or deleted; a newer one has its own event)"
        )
        ledger.finish(claim, FileStatus.SKIPPED, error=gone)
        return Outcome(200, f"{where}: skipped, {gone}")
    source = {
        "uri": storage.url_for(key),
        "generation": claim.generation,
        "sha256": sha256(data),
        "bytes": len(data),
    }
    ledger.update(claim, sha256=source["sha256"], size=len(data))
    name = quarantine_name(key, claim.generation)
    try:
        result = read_records(data)
    except UnusableFile as exc:
        report = write_quarantine(storage, name, source, error=str(exc))
        ledger.finish(claim, FileStatus.REJECTED, error=str(exc), report=report)
        return Outcome(200, f"{where}: unusable, {exc}; quarantined with its report")
    report = write_quarantine(storage, name, source, result)
    if claim.stored:
        row = ledger.get(claim.bucket, claim.name, claim.generation)
    else:
        from functions.database import Superseded

        counts = {k: report[k] for k in ("rows_read", "accepted", "rejected")}
        try:
            row = ledger.store(claim, inventory_records(result.accepted), **counts, report=report)
        except Superseded as exc:
            ledger.finish(claim, FileStatus.SKIPPED, error=str(exc), **counts, report=report)
            return Outcome(200, f"{where}: skipped, {exc}")
    if not claim.scored:
        row = ledger.update(claim, **champion_score(instance, result.accepted))
    return _finish(instance, claim, row, f"new appraisals in {key}", where)


def _withdraw(instance: Instance, key: str, claim: Claim, where: str) -> Outcome:
    """An object deleted: if it is gone (not replaced by a newer generation, whose own event
    replaces its stones), the stones it brought leave the inventory."""
    from functions.database import Superseded

    ledger = instance.ledger
    current = [o for o in instance.data.objects(key) if o.key == key]
    if current:
        reason = f"generation {current[0].generation} replaced it and brings its own stones"
        ledger.finish(claim, FileStatus.SKIPPED, error=reason)
        return Outcome(200, f"{where}: skipped, {reason}")
    try:
        row = ledger.withdraw(claim)
    except Superseded as exc:
        ledger.finish(claim, FileStatus.SKIPPED, error=str(exc))
        return Outcome(200, f"{where}: skipped, {exc}")
    return _finish(instance, claim, row, f"{key} was deleted", where)


def _finish(instance: Instance, claim: Claim, row: dict, reason: str, where: str) -> Outcome:
    """Ask for a training run if the inventory changed, and close the ledger's entry."""
    run_id = None
    if row["inserted"] or row["changed"] or row["withdrawn"]:
        started = instance.retraining.request(
            trigger="ingest", reason=reason, caller=f"ingest:{where}"
        )
        run_id = started["run_id"]
    return Outcome(200, f"{where}: {summary(instance.ledger.finish(claim, run_id=run_id))}")


def quarantine_name(key: str, generation: str) -> str:
    """Where a delivery's rejects go: quarantine/<path under incoming>-<generation>.*, so that
    each generation of a file keeps its own report."""
    path = PurePosixPath(key.removeprefix(INCOMING))
    return str(path.with_name(f"{path.stem}-{generation}{path.suffix}"))


def inventory_records(accepted: pd.DataFrame) -> list[dict]:
    """Validated rows as inventory records (grades as plain strings)."""
    records = accepted.drop(columns="line")
    return records.astype({c: str for c in ("cut", "color", "clarity")}).to_dict("records")


def champion_score(instance: Instance, accepted: pd.DataFrame) -> dict:
    """The champion's MAPE and interval coverage on the file's stones it never trained on:
    how well the model priced fresh appraisals before it retrains on them."""
    from datetime import UTC, datetime

    from training.evaluation import fresh_error

    champion = instance.registry.champion()
    score = {
        "scored_at": datetime.now(UTC),
        "champion_mape": None,
        "champion_scored": 0,
        "champion_coverage": None,
    }
    if champion is None:
        return {**score, "champion_version": None}
    version = champion["version"]
    if len(accepted):
        model, metadata = instance.registry.load(version)
        seen = instance.registry.training_rows(version, metadata)
        mape, scored, coverage = fresh_error(model, seen, accepted)
        score.update(champion_mape=mape, champion_scored=scored, champion_coverage=coverage)
    return {**score, "champion_version": version}


def summary(row: dict) -> str:
    changes = (
        f"{row['inserted']} new, {row['changed']} corrected, {row['withdrawn']} withdrawn, "
        f"{row['unchanged']} already in the inventory"
    )
    if row["event"] == FileEvent.DELETED:
        text = f"deleted: {row['withdrawn']} stones withdrawn"
    else:
        text = (
            f"{row['rows_read']} rows read, {row['accepted']} accepted ({changes}), "
            f"{row['rejected']} quarantined"
        )
    if row["champion_mape"] is not None:
        text += (
            f"; champion {row['champion_version']}: MAPE {row['champion_mape']:.2f}% on "
            f"{row['champion_scored']} stones it never saw"
        )
    return text + (f"; training run {row['run_id']}" if row["run_id"] else "; nothing to retrain")


def cloud_event_function(instance: Instance) -> Callable[[Any], None]:
    """The `ingest` target: one log line per event; 409 and 503 answer with their reason. The
    daily monitoring check (Cloud Scheduler's event) is run here too: a function that already
    reads the database and the models, reachable by the scheduler's push only."""
    from werkzeug.exceptions import Conflict, ServiceUnavailable

    def ingest_event(event: Any) -> None:
        if event["type"] == MONITORING_CHECK:
            instance.monitoring.check()
            return
        outcome = ingest(instance, event["type"], event.data)
        (log.warning if outcome.retry else log.info)("ingest %s", outcome.message)
        if outcome.status == 409:
            raise Conflict(outcome.message)
        if outcome.retry:
            raise ServiceUnavailable(outcome.message)

    ingest_event.__name__ = ingest_event.__qualname__ = "ingest"
    return ingest_event
