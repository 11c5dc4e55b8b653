"""The model registry: versions, the champion pointer and the record of every training run.

MODELS root layout (docs/design.md):
  models/<version>/      model files + metadata.json (with the sha256 of every file)
  champion.json          which version serves; swapped with compare-and-swap
  runs/<run_id>.json     each training run
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from training.checksums import sha256
from training.model import MODEL_FILE, ModelParams, PriceModel
from training.storage import NotFound, Storage, check_key

if TYPE_CHECKING:
    from training.fingerprints import TrainingRows

CHAMPION = "champion.json"
METADATA = "metadata.json"


class ChecksumMismatch(RuntimeError):
    """A model file does not match the checksum recorded when it was registered."""


class UnknownVersion(LookupError):
    """No model is registered under that version."""


class NotAFigure(ValueError):
    """A metric that is infinite or NaN: the run that measured it failed; no version holds it."""


class NoChampion(LookupError):
    """No model has been promoted yet."""


class PromotionConflict(RuntimeError):
    """champion.json changed while this promotion was being made; nothing was written."""


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def new_version(data_sha256: str, at: datetime | None = None) -> str:
    """Versions sort by time and carry a short hash of the training data."""
    stamp = (at or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{data_sha256[:8]}"


class Registry:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # -- versions -----------------------------------------------------------------------------
    def register(self, version: str, files: dict[str, bytes], metadata: dict) -> dict:
        """Write a version's files, then its metadata (with checksums) last: a version without
        metadata.json is incomplete and never listed."""
        if (where := non_finite(metadata)) is not None:
            raise NotAFigure(f"the metric {where} is not a finite number: {version} not registered")
        for name, data in files.items():
            self.storage.write(f"models/{version}/{name}", data)
        metadata = {
            **metadata,
            "version": version,
            "artifacts": {
                name: {"sha256": sha256(data), "bytes": len(data)} for name, data in files.items()
            },
        }
        self.storage.write(f"models/{version}/{METADATA}", _json(metadata))
        return metadata

    def versions(self) -> list[str]:
        parts = (key.split("/") for key in self.storage.list("models/"))
        return sorted(p[1] for p in parts if len(p) == 3 and p[2] == METADATA)

    def metadata(self, version: str) -> dict:
        key = f"models/{version}/{METADATA}"
        try:
            data = self.storage.read(check_key(key))
        except (NotFound, ValueError):  # ValueError: a name that is no storage key names no version
            raise UnknownVersion(version) from None
        return json.loads(data)

    def artifact(self, version: str, name: str, metadata: dict | None = None) -> bytes:
        """One file of a version, after checking it against its recorded sha256."""
        metadata = metadata or self.metadata(version)
        recorded = metadata["artifacts"].get(name)
        if recorded is None:
            raise ChecksumMismatch(f"models/{version}/{name} is not a registered file")
        data = self.storage.read(f"models/{version}/{name}")
        if sha256(data) != recorded["sha256"]:
            raise ChecksumMismatch(f"models/{version}/{name} does not match its checksum")
        return data

    def training_rows(self, version: str, metadata: dict | None = None) -> TrainingRows:
        """The stones `version` was trained on (training/fingerprints.py)."""
        from training.fingerprints import FILE, LEGACY_FILE, TrainingRows

        metadata = metadata or self.metadata(version)
        name = LEGACY_FILE if LEGACY_FILE in metadata["artifacts"] else FILE
        return TrainingRows(name, self.artifact(version, name, metadata))

    def load(self, version: str) -> tuple[PriceModel, dict]:
        """The model of a version; refuses a file whose checksum does not match."""
        metadata = self.metadata(version)
        model = PriceModel.from_files({MODEL_FILE: self.artifact(version, MODEL_FILE, metadata)})
        return model, metadata

    # -- champion -----------------------------------------------------------------------------
    def champion(self) -> dict | None:
        """The champion record ({"version", "promoted_at", "reason", ...}) or None."""
        try:
            return json.loads(self.storage.read(CHAMPION))
        except NotFound:
            return None

    def champion_params(self) -> ModelParams | None:
        """The parameters the champion was trained with (None: no champion yet); parameters
        this code does not know are left out."""
        champion = self.champion()
        if champion is None:
            return None
        recorded = self.metadata(champion["version"]).get("params", {})
        known = {f.name for f in dataclasses.fields(ModelParams)}
        return ModelParams(**{k: v for k, v in recorded.items() if k in known})

    def champion_with_token(self) -> tuple[dict | None, str | None]:
        try:
            data, token = self.storage.read_with_token(CHAMPION)
        except NotFound:
            return None, None
        return json.loads(data), token

    def promote(self, version: str, reason: str, *, expected: str | bool | None = True) -> dict:
        """Make `version` the champion.

        `expected` is the champion token the caller's decision was based on (None: there was
        no champion); True means "whatever is there now". If champion.json changed since,
        PromotionConflict is raised and nothing is written.
        """
        self.metadata(version)
        current, token = self.champion_with_token()
        if expected is not True and expected != token:
            raise PromotionConflict("the champion changed while this decision was being made")
        record = {
            "version": version,
            "promoted_at": now_utc(),
            "reason": reason,
            "previous": current["version"] if current else None,
        }
        if not self.storage.write_if_unchanged(CHAMPION, _json(record), token):
            raise PromotionConflict("another promotion replaced the champion first")
        return record

    # -- runs ---------------------------------------------------------------------------------
    def save_run(self, run: dict) -> None:
        self.storage.write(f"runs/{run['run_id']}.json", _json(run))

    def run(self, run_id: str) -> dict:
        return self.run_with_token(run_id)[0]

    def run_with_token(self, run_id: str) -> tuple[dict, str]:
        """A run's record and the token of its version, for `save_run_if_unchanged`."""
        try:
            data, token = self.storage.read_with_token(f"runs/{run_id}.json")
        except NotFound:
            raise LookupError(run_id) from None
        return json.loads(data), token

    def save_run_if_unchanged(self, run: dict, token: str) -> bool:
        """Save a run's record only if it is still the version `token` names."""
        return self.storage.write_if_unchanged(f"runs/{run['run_id']}.json", _json(run), token)

    def runs(self) -> list[str]:
        return sorted(k[len("runs/") : -len(".json")] for k in self.storage.list("runs/"))


def non_finite(document: object, path: str = "") -> str | None:
    """The path of the first number in `document` that is infinite or NaN, or None."""
    if isinstance(document, float) and not math.isfinite(document):
        return f"{path or 'value'} = {document}"
    items = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else ()
    )
    for key, value in items:
        found = non_finite(value, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _json(document: dict) -> bytes:
    return json.dumps(document, indent=2, sort_keys=False, default=str).encode()
