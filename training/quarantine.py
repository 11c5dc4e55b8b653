"""Rejected rows are never dropped: each file's rejects and a report go to quarantine/."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from training.spreadsheet import spreadsheet_csv
from training.storage import Storage
from training.validation import ValidationResult


def quarantine_keys(name: str) -> tuple[str, str]:
    """The keys of a source file's rejected rows and its JSON report; a relative `name` keeps
    its folders (sub/a.csv → quarantine/sub/a.*)."""
    path = PurePosixPath(name)
    stem = (path.parent / (path.stem or "unnamed")).as_posix()
    return f"quarantine/{stem}.rejected.csv", f"quarantine/{stem}.report.json"


def write_quarantine(
    storage: Storage,
    name: str,
    source: dict,
    result: ValidationResult | None = None,
    error: str | None = None,
) -> dict:
    """Store the rejected rows (with line and reason, safe to open in a spreadsheet) and a
    report; returns the report.

    `source` describes the file (uri, sha256, bytes). For a file that could not be used at all,
    pass `error` instead of a result.
    """
    rows_key, report_key = quarantine_keys(name)
    report: dict = {"source": source}
    if result is None:
        report.update({"usable": False, "error": error})
    else:
        report.update({"usable": True, **result.report()})
        if len(result.rejected):
            storage.write(rows_key, spreadsheet_csv(result.rejected))
            report["rejected_rows"] = storage.url_for(rows_key)
    storage.write(report_key, json.dumps(report, indent=2).encode())
    return report
