"""Where a training run is: the one list of its statuses, for the run records, the training
schedule and the API."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    """Asked for; waiting for its job to start, or for the run in progress to end."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """A model was registered and gated (promoted, or kept as a candidate)."""
    FAILED = "failed"
    REJECTED_INPUT = "rejected_input"
    """Its data could not be used at all."""


ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
"""A run in one of these may still end otherwise."""
