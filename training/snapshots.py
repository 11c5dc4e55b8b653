"""A snapshot of the inventory, the input of a training run: a manifest naming its parts.

The priced stones are cut by id into parts of PART_IDS ids (ids 0–49,999, 50,000–99,999, ...),
each a CSV file named by its signature, a digest of its stones' fingerprints in order
(`snapshots/parts/<signature>.csv`). New stones change the last part and an edited stone its
own part; every other part of the next snapshot is the same object as in the one before,
neither read from the database nor written nor validated again: a part's validation (its
accepted stones as arrays with their fingerprints, its rejected rows with their reasons) is
kept beside it (`snapshots/validated/<rules>/<signature>.npz`) under a digest of the modules
that define the rules, so that a change of the rules validates every part once more.

Read, a snapshot is one CSV file: its parts' rows in order, numbered as that file's lines (the
header is line 1), each stone once (a stone identical to an earlier one is rejected as its
duplicate, as within a file).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from training.fingerprints import fingerprints
from training.record import CATEGORIES, COLUMNS
from training.storage import NotFound, Storage
from training.validation import UnusableFile, ValidationResult, read_records

FORMAT = "diamonds-snapshot/1"
PART_IDS = 50_000
"""Ids per part: a file of new stones makes the training run validate at most this many."""
FOLDER = "snapshots/"
_CACHE_FORMAT = b"validated-part/1"


@dataclass(frozen=True)
class Part:
    """A part as its writer knows it: its signature (the same stones, the same signature), its
    number of stones, and how to make its CSV bytes (asked only for a part not stored yet)."""

    signature: str
    rows: int
    content: Callable[[], bytes]


def signature(stones: Iterable[str]) -> str:
    """The signature of a part whose stones have these fingerprints, in order."""
    return hashlib.sha256("\n".join(stones).encode()).hexdigest()


def write_snapshot(storage: Storage, parts: Iterable[Part]) -> tuple[str | None, int]:
    """Store the parts that are not stored yet, then the manifest naming them all; the
    manifest's key and the number of stones (no manifest for no stones)."""
    entries = []
    for part in parts:
        name = f"parts/{part.signature}.csv"
        if not storage.exists(FOLDER + name):
            storage.write(FOLDER + name, part.content())
        entries.append({"key": name, "signature": part.signature, "rows": part.rows})
    stones = sum(entry["rows"] for entry in entries)
    if not stones:
        return None, 0
    key = f"{FOLDER}{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.json"
    manifest = {"format": FORMAT, "rows": stones, "parts": entries}
    storage.write(key, json.dumps(manifest, indent=1).encode())
    return key, stones


def manifest_of(data: bytes) -> dict | None:
    """The snapshot manifest these bytes hold, or None when they are not one (a CSV file)."""
    if not data[:64].lstrip().startswith(b"{"):
        return None
    try:
        manifest = json.loads(data)
    except ValueError:
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def read_snapshot(
    storage: Storage, manifest: dict, log: Callable[[str], None] = print
) -> ValidationResult:
    """The validation of a snapshot whose manifest was read from `storage` (the folder of the
    manifest): each part's from its cache, or validated now and cached."""
    results, offset, fresh = [], 0, 0
    for part in _parts(manifest):
        result, validated = _validated_part(storage, part, log)
        fresh += validated
        result.accepted["line"] += offset
        result.rejected["line"] += offset
        offset += result.rows_read
        results.append(result)
    log(f"[validate] {len(results)} part(s), {fresh} validated now, the others as before")
    accepted = pd.concat([r.accepted for r in results], ignore_index=True)
    rejected = pd.concat([r.rejected for r in results], ignore_index=True)
    accepted, duplicates = _without_duplicates(accepted)
    rejected = pd.concat([rejected, duplicates], ignore_index=True)
    return ValidationResult(
        accepted, rejected.sort_values("line", kind="stable", ignore_index=True), offset
    )


def _parts(manifest: dict) -> list[dict]:
    parts = manifest.get("parts")
    if not isinstance(parts, list) or not all(
        isinstance(p, dict)
        and isinstance(p.get("key"), str)
        and isinstance(p.get("signature"), str)
        and p["signature"].isalnum()
        for p in parts
    ):
        raise UnusableFile("the snapshot manifest does not list its parts")
    if not parts:
        raise UnusableFile("the snapshot holds no stones")
    return parts


def _validated_part(
    storage: Storage, part: dict, log: Callable[[str], None]
) -> tuple[ValidationResult, bool]:
    """A part's validation, and whether it was validated now (not found in the cache). Keeping
    it is a saving, not a duty: a cache that cannot be written is said and passed over."""
    cached = f"validated/{rules_digest()}/{part['signature']}.npz"
    try:
        return _from_arrays(storage.read(cached)), False
    except (NotFound, ValueError, KeyError, OSError, zipfile.BadZipFile):
        pass
    try:
        data = storage.read(part["key"])
    except NotFound:
        raise UnusableFile(f"the snapshot's part {part['key']} is missing") from None
    result = read_records(data)
    result.accepted["fingerprint"] = fingerprints(result.accepted)
    try:
        storage.write(cached, _to_arrays(result))
    except Exception as exc:
        log(f"[validate] the validation of {part['key']} is not kept: {type(exc).__name__}: {exc}")
    return result, True


@cache
def rules_digest() -> str:
    """A digest of the rules of which rows are valid: the source of training/validation.py and
    of every training module it imports, directly or not (and of the cache's format)."""
    digest = hashlib.sha256(_CACHE_FORMAT)
    for name in sorted(_imported("training.validation", set())):
        digest.update(name.encode() + b"\0" + _source(name).read_bytes())
    return digest.hexdigest()[:16]


def _source(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    return Path(spec.origin)


def _imported(module: str, found: set[str]) -> set[str]:
    """`module` and the training modules it imports, directly or not, added to `found`."""
    found.add(module)
    for node in ast.walk(ast.parse(_source(module).read_bytes())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "training":
            names = [f"training.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            if name.startswith("training.") and name not in found:
                _imported(name, found)
    return found


def _to_arrays(result: ValidationResult) -> bytes:
    accepted = result.accepted
    arrays = {
        name: accepted[name].cat.codes.to_numpy(np.int8)
        if name in CATEGORIES
        else accepted[name].to_numpy(float)
        for name in COLUMNS
    }
    arrays["fingerprint"] = accepted["fingerprint"].to_numpy(np.uint64)
    report = {
        "rows_read": result.rows_read,
        "ignored_columns": result.ignored_columns,
        "rejected": result.rejected.to_dict("records"),
    }
    out = io.BytesIO()
    np.savez(
        out,
        line=accepted["line"].to_numpy(np.int64),
        report=np.array(json.dumps(report)),
        **arrays,
    )
    return out.getvalue()


def _from_arrays(data: bytes) -> ValidationResult:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        columns = {
            name: pd.Categorical.from_codes(arrays[name], CATEGORIES[name], ordered=True)
            if name in CATEGORIES
            else arrays[name]
            for name in COLUMNS
        }
        accepted = pd.DataFrame(
            {"line": arrays["line"], **columns, "fingerprint": arrays["fingerprint"]}
        )
        report = json.loads(str(arrays["report"]))
    rejected = pd.DataFrame.from_records(report["rejected"])
    if rejected.empty:
        rejected = pd.DataFrame(columns=["line", *COLUMNS, "reason"])
    rejected["line"] = rejected["line"].astype(np.int64)
    return ValidationResult(accepted, rejected, report["rows_read"], report["ignored_columns"])


def _without_duplicates(accepted: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stones without those identical to an earlier one (the same fingerprint, in another
    part), and those, as rejected rows."""
    repeated = accepted["fingerprint"].duplicated(keep="first").to_numpy()
    if not repeated.any():
        return accepted, pd.DataFrame(columns=["line", *COLUMNS, "reason"])
    first = accepted[~repeated].set_index("fingerprint")["line"]
    moved = accepted[repeated]
    reasons = [f"row: exact duplicate of line {first[stone]}" for stone in moved["fingerprint"]]
    moved = moved.drop(columns="fingerprint").astype({name: str for name in COLUMNS})
    return accepted[~repeated].reset_index(drop=True), moved.assign(reason=reasons)
