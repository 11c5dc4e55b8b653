"""Which stones a model saw: each stone's fingerprint, as a 64-bit number.

The fingerprint is the inventory's own (training.record.fingerprint: the same stone, the same
fingerprint); its 16 hex digits are the 64 bits of an unsigned integer. The gate compares two
models on held-out stones neither trained on, and ingestion scores the champion on the stones
it never saw: both ask a version's training rows whether they hold a stone. A version keeps
them as a sorted array of those integers (`FILE`), read and searched at NumPy's speed.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import TYPE_CHECKING

import numpy as np

from training.record import COLUMNS

if TYPE_CHECKING:
    import pandas as pd

FILE = "training_rows.npy"
"""A version's training rows: the sorted, distinct fingerprints of its stones (uint64)."""
LEGACY_FILE = "training_rows.json"
"""The training rows of the versions registered before: the fingerprints as hex strings."""


def fingerprints(records: pd.DataFrame) -> np.ndarray:
    """The fingerprint of each record (COLUMNS), as uint64: training.record.fingerprint's
    digits, computed here for a whole frame at once."""
    columns = [records[name].tolist() for name in COLUMNS]
    return np.fromiter(
        (
            int.from_bytes(hashlib.sha256("|".join(map(str, row)).encode()).digest()[:8], "big")
            for row in zip(*columns, strict=True)
        ),
        dtype=np.uint64,
        count=len(records),
    )


def from_hex(digits: list[str]) -> np.ndarray:
    """Fingerprints written as hex digits (training.record.fingerprint), as uint64."""
    return np.fromiter((int(d, 16) for d in digits), dtype=np.uint64, count=len(digits))


class TrainingRows:
    """The stones a version was trained on, read from its registered file (`FILE`, or
    `LEGACY_FILE` for a version registered before)."""

    def __init__(self, name: str, data: bytes) -> None:
        if name == LEGACY_FILE:
            self._sorted = np.unique(from_hex(json.loads(data)))
        else:
            self._sorted = np.load(io.BytesIO(data), allow_pickle=False).astype(np.uint64)

    def seen(self, stones: np.ndarray) -> np.ndarray:
        """Whether each stone (by its fingerprint) is among the training rows."""
        return np.isin(np.asarray(stones, dtype=np.uint64), self._sorted)


def training_rows_file(stones: np.ndarray) -> bytes:
    """The training rows file (`FILE`) of a model fitted on the stones of these fingerprints."""
    out = io.BytesIO()
    np.save(out, np.unique(np.asarray(stones, dtype=np.uint64)), allow_pickle=False)
    return out.getvalue()
