"""Checksums of stored bytes: model files, data files and their lineage."""

from __future__ import annotations

import hashlib


def sha256(data: bytes) -> str:
    """The SHA-256 of `data`, as 64 hexadecimal digits."""
    return hashlib.sha256(data).hexdigest()
