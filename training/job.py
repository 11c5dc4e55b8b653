"""A training run: read → validate → quarantine → evaluate → fit → register → gate.

The same code runs under `diamonds train`, `python -m training` (the container entrypoint) and
the local training runner.
"""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata as package_metadata

import numpy as np
import pandas as pd

from training.checksums import sha256
from training.evaluation import cross_validate, evaluate_holdout, mape_standard_error, metrics
from training.features import feature_matrix
from training.fingerprints import FILE as ROWS_FILE
from training.fingerprints import fingerprints, training_rows_file
from training.gate import Champion, Scores, decide
from training.model import ModelParams, PriceModel
from training.quarantine import write_quarantine
from training.record import COLUMNS, FEATURES
from training.registry import (
    NotAFigure,
    PromotionConflict,
    Registry,
    new_run_id,
    new_version,
    non_finite,
    now_utc,
)
from training.sampling import evaluation_split
from training.schedule import SlotLost
from training.snapshots import manifest_of, read_snapshot
from training.statuses import RunStatus
from training.storage import NotFound, Storage, split_uri
from training.validation import UnusableFile, ValidationResult, read_records

MIN_ROWS = 50
_CARAT = FEATURES.index("carat")


class UnusableInput(ValueError):
    """The run's input cannot be used at all (exit code 2)."""


@dataclass
class Source:
    uri: str
    name: str
    data: bytes = field(repr=False)
    storage: Storage = field(repr=False)
    """The folder the file was read from (a snapshot's parts are beside its manifest)."""

    @property
    def description(self) -> dict:
        return {"uri": self.uri, "sha256": sha256(self.data), "bytes": len(self.data)}


def read_source(uri: str) -> Source:
    try:
        storage, name = split_uri(uri)
        return Source(uri, name, storage.read(name), storage)
    except (NotFound, FileNotFoundError):
        raise UnusableInput(f"{uri}: no such file") from None
    except IsADirectoryError:
        raise UnusableInput(f"{uri}: is a folder, not a data file") from None
    except ValueError as exc:
        raise UnusableInput(f"{uri}: {exc}") from None


class TrainingRun:
    """One run, recorded in runs/<run_id>.json from start to finish.

    `request` is what the run was asked with (trigger, reason, requested_by, snapshot, rows, ...):
    the record keeps it. `cancelled`, when set, stops the run at its next stage (its process lost
    the training slot).
    """

    def __init__(
        self,
        data: Storage,
        models: Storage,
        *,
        params: ModelParams | None = None,
        tolerance: float = 0.02,
        run_id: str | None = None,
        trigger: str = "cli",
        request: dict | None = None,
        cancelled: threading.Event | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.data, self.registry = data, Registry(models)
        self.params = params or ModelParams()
        self.tolerance = tolerance
        self.cancelled = cancelled or threading.Event()
        self.log = log
        self.record: dict = {
            "trigger": trigger,
            **(request or {}),
            "run_id": run_id or new_run_id(),
            "status": RunStatus.RUNNING,
            "started_at": now_utc(),
            "stages": {},
        }

    def _stage(self, name: str, started: float, message: str) -> None:
        seconds = round(time.perf_counter() - started, 3)
        self.record["stages"][name] = seconds
        self.registry.save_run(self.record)
        self.log(f"[{name}] {message} ({seconds:.1f} s)")

    def _go_on(self) -> None:
        """Stop here if the process lost the training slot, before the next costly stage."""
        if self.cancelled.is_set():
            raise SlotLost("the run lost the training slot (its lease lapsed) and stopped")

    def _finish(self, status: RunStatus, **fields: object) -> dict:
        self.record.update(status=status, finished_at=now_utc(), **fields)
        self.registry.save_run(self.record)
        return self.record

    def run(self, uris: list[str]) -> dict:
        """Train on the given data files; returns the run record. Raises UnusableInput."""
        self.registry.save_run(self.record)
        try:
            return self._run(uris)
        except UnusableInput as exc:
            self._finish(RunStatus.REJECTED_INPUT, error=str(exc))
            raise
        except Exception as exc:
            self._finish(RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            raise
        except KeyboardInterrupt:
            self._finish(RunStatus.FAILED, error="interrupted: the training process was stopped")
            raise

    def _run(self, uris: list[str]) -> dict:
        if not uris:
            raise UnusableInput("no data file given")
        started = time.perf_counter()
        sources = [read_source(uri) for uri in uris]
        self._stage(
            "read", started, f"{len(sources)} file(s), {sum(len(s.data) for s in sources):,} bytes"
        )

        started = time.perf_counter()
        records, lineage = self._validate(sources)
        self._stage(
            "validate",
            started,
            f"{lineage['rows_read']} rows read: {lineage['rows_accepted']} accepted, "
            f"{lineage['rows_rejected']} quarantined",
        )
        X, price = feature_matrix(records), records["price"].to_numpy(dtype=float)

        self._go_on()
        started = time.perf_counter()
        stones = records["fingerprint"].to_numpy(np.uint64)
        split = evaluation_split(stones, X[:, _CARAT], self.params.seed)
        train, test, sample = split.train, split.holdout, split.sample
        cv = cross_validate(X[sample], price[sample], self.params)
        error = mape_standard_error(price[sample], cv.predicted)
        calibration = {
            "calibration_residuals": cv.log_residuals,
            "calibration_carat": X[sample, _CARAT],
        }
        holdout_model = PriceModel(self.params).fit(X[train], price[train], **calibration)
        holdout = evaluate_holdout(holdout_model, X[test], price[test])
        where = non_finite({"cross_validation": cv.summary, "holdout": holdout})
        if where is not None:
            raise NotAFigure(f"the evaluation gave {where}: no figure to gate on")
        self._stage(
            "evaluate",
            started,
            f"CV MAPE {cv.summary['mape']:.2f}% ± {error:.2f} on "
            f"{len(sample)} of {len(train)} training stones, held-out MAPE "
            f"{holdout['mape']:.2f}%, 90% interval coverage {holdout['coverage']:.1%}",
        )

        self._go_on()
        started = time.perf_counter()
        model = PriceModel(self.params).fit(X, price, **calibration)
        self._stage("fit", started, f"{len(price)} stones")

        self._go_on()
        started = time.perf_counter()
        data_sha = sha256("".join(sorted(s["sha256"] for s in lineage["sources"])).encode())
        version = new_version(data_sha)
        files = {**model.to_files(), ROWS_FILE: training_rows_file(stones)}
        self.registry.register(
            version,
            files,
            {
                "created_at": now_utc(),
                "run_id": self.record["run_id"],
                "params": asdict(self.params),
                "metrics": {"cross_validation": cv.summary, "holdout": holdout},
                "interval": {
                    "coverage": self.params.coverage,
                    "log_offsets": model.interval_bands,
                },
                "lineage": lineage,
                "libraries": _library_versions(),
            },
        )
        self._stage("register", started, f"version {version}")

        self._go_on()
        started = time.perf_counter()
        gate = self._gate(version, holdout_model, X[test], price[test], stones[test], cv.summary)
        self._stage("gate", started, f"{gate['decision']}: {gate['reason']}")
        return self._finish(
            RunStatus.SUCCEEDED,
            version=version,
            gate=gate,
            metrics={"cv_mape": cv.summary["mape"], "holdout": holdout},
        )

    def _validate(self, sources: list[Source]) -> tuple[pd.DataFrame, dict]:
        results: list[ValidationResult] = []
        for source in sources:
            try:
                manifest = manifest_of(source.data)
                results.append(
                    read_records(source.data)
                    if manifest is None
                    else read_snapshot(source.storage, manifest, self.log)
                )
            except UnusableFile as exc:
                write_quarantine(self.data, source.name, source.description, error=str(exc))
                raise UnusableInput(f"{source.uri}: {exc}") from None
        for result in results:
            if "fingerprint" not in result.accepted:
                result.accepted["fingerprint"] = fingerprints(result.accepted)
        _reject_cross_file_duplicates(sources, results)
        lineage_sources = []
        for source, result in zip(sources, results, strict=True):
            report = write_quarantine(self.data, source.name, source.description, result)
            lineage_sources.append(
                {
                    **source.description,
                    **{k: report[k] for k in ("rows_read", "accepted", "rejected")},
                }
            )
            self.log(f"[validate] {source.name}: {_counts_line(result)}")
        records = pd.concat([r.accepted for r in results], ignore_index=True)
        if len(records) < MIN_ROWS:
            raise UnusableInput(
                f"only {len(records)} valid rows; at least {MIN_ROWS} are needed to train"
            )
        lineage = {
            "sources": lineage_sources,
            "rows_read": sum(r.rows_read for r in results),
            "rows_accepted": len(records),
            "rows_rejected": sum(len(r.rejected) for r in results),
        }
        return records, lineage

    def _gate(
        self,
        version: str,
        candidate: PriceModel,
        X: np.ndarray,
        price: np.ndarray,
        stones: np.ndarray,
        cv: dict,
    ) -> dict:
        """Promote only if not worse than the champion, on rows neither model trained on."""
        current, token = self.registry.champion_with_token()
        scores, champion, held_out_rows = Scores(cv["mape"]), None, 0
        if current is not None:
            scores, champion, held_out_rows = self._measure(
                current["version"], candidate, X, price, stones, cv
            )
        decision = decide(scores, champion, held_out_rows, self.tolerance)
        promote, reason = decision.promote, decision.reason
        if promote:
            try:
                self.registry.promote(version, reason, expected=token)
            except PromotionConflict as exc:
                promote, reason = False, f"not promoted: {exc}"
        return {
            "tolerance": self.tolerance,
            **(decision.compared or {}),
            "decision": "promoted" if promote else "candidate",
            "reason": reason,
        }

    def _measure(
        self,
        version: str,
        candidate: PriceModel,
        X: np.ndarray,
        price: np.ndarray,
        stones: np.ndarray,
        cv: dict,
    ) -> tuple[Scores, Champion, int]:
        """The scores of the candidate and of the champion `version` for the gate, and how many
        held-out stones neither trained on."""
        try:
            model, meta = self.registry.load(version)
            seen = self.registry.training_rows(version, meta)
            champion_cv = float(meta["metrics"]["cross_validation"]["mape"])
        except Exception as exc:
            return Scores(cv["mape"]), Champion(version, problem=str(exc)), 0
        unseen = ~seen.seen(stones)

        def held_out(model: PriceModel) -> float | None:
            return (
                metrics(price[unseen], model.predict(X[unseen]))["mape"] if unseen.any() else None
            )

        return (
            Scores(cv["mape"], held_out(candidate)),
            Champion(version, Scores(champion_cv, held_out(model))),
            int(unseen.sum()),
        )


def _reject_cross_file_duplicates(sources: list[Source], results: list[ValidationResult]) -> None:
    """A stone identical to one of an earlier file (the same fingerprint) is rejected."""
    if len(sources) < 2:
        return
    seen: dict[int, str] = {}
    for source, result in zip(sources, results, strict=True):
        accepted = result.accepted
        stones = accepted["fingerprint"].tolist()
        duplicate = np.array([stone in seen for stone in stones], dtype=bool)
        if duplicate.any():
            moved = accepted[duplicate].drop(columns="fingerprint")
            moved = moved.astype({c: str for c in COLUMNS})
            moved["reason"] = [
                f"row: exact duplicate of {seen[s]}"
                for s, d in zip(stones, duplicate, strict=True)
                if d
            ]
            result.rejected = pd.concat([result.rejected, moved], ignore_index=True)
            result.accepted = accepted[~duplicate].reset_index(drop=True)
        for stone, line in zip(stones, accepted["line"], strict=True):
            seen.setdefault(stone, f"{source.name} line {line}")


def _counts_line(result: ValidationResult) -> str:
    report = result.report()
    detail = ", ".join(f"{k} {v}" for k, v in report["rejected_by_field"].items())
    line = (
        f"{report['rows_read']} rows read, {report['accepted']} accepted, "
        f"{report['rejected']} quarantined"
    )
    return f"{line} ({detail})" if detail else line


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("numpy", "pandas", "lightgbm"):
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return versions
