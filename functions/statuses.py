"""Where a data file's ingestion is: the one list of the ledger's statuses and of the events it
records, for the database, the `ingest` function and the API."""

from __future__ import annotations

from enum import StrEnum


class FileStatus(StrEnum):
    PROCESSING = "processing"
    """A delivery holds the file (a claim with a lease it renews while it works)."""
    DONE = "done"
    FAILED = "failed"
    """A later delivery may try again, carrying on where this one stopped."""
    REJECTED = "rejected"
    """Unusable as a whole, quarantined."""
    SKIPPED = "skipped"
    """That generation no longer exists, or a newer one already counts."""


class FileEvent(StrEnum):
    FINALIZED = "finalized"
    """The generation was written: its stones replace the previous generation's."""
    DELETED = "deleted"
    """The file was deleted: its stones are withdrawn."""
