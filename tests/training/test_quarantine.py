"""Quarantine: a file's rejected rows (with line and reason, safe in a spreadsheet) and its
report, kept beside the data on a local folder and on a bucket of the GCS emulator."""

from __future__ import annotations

import csv
import io
import json

import pytest

from training.quarantine import quarantine_keys, write_quarantine
from training.storage import Storage
from training.validation import read_records

HEADER = "carat,cut,color,clarity,depth,table,price,x,y,z,note"
GOOD = "1.0,Ideal,E,VS1,61.5,57,7000,6.4,6.43,3.95,kept"
SOURCE = {"uri": "file:///somewhere/incoming/a.csv", "sha256": "ab" * 32, "bytes": 123}


def data_file(*rows: str) -> bytes:
    return "\r\n".join([HEADER, *rows]).encode() + b"\r\n"


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("a.csv", "a"),
        ("incoming/sub/a.csv", "incoming/sub/a"),
        ("appraisals-1700000000000.csv", "appraisals-1700000000000"),
        ("a.b.csv", "a.b"),
        ("no-suffix", "no-suffix"),
        ("", "unnamed"),
    ],
)
def test_a_files_quarantine_keeps_its_folders_and_drops_its_suffix(name: str, stem: str) -> None:
    assert quarantine_keys(name) == (
        f"quarantine/{stem}.rejected.csv",
        f"quarantine/{stem}.report.json",
    )


def test_rejected_rows_are_kept_with_line_and_reason_beside_a_report(storage: Storage) -> None:
    result = read_records(
        data_file(
            GOOD,
            "1.0,Ideal,E,VS1,61.5,57,-7000,6.4,6.43,3.95,negative",
            '1.0,Perfect,E,VS1,61.5,57,7000,6.4,6.43,3.95,=HYPERLINK("http://x")',
            GOOD,
        )
    )
    report = write_quarantine(storage, "sub/a.csv", SOURCE, result)
    assert json.loads(storage.read("quarantine/sub/a.report.json")) == report
    assert report == {
        "source": SOURCE,
        "usable": True,
        "rows_read": 4,
        "accepted": 1,
        "rejected": 3,
        "rejected_by_field": {"cut": 1, "price": 1, "row": 1},
        "ignored_columns": ["note"],
        "rejected_rows": storage.url_for("quarantine/sub/a.rejected.csv"),
    }
    rows = list(csv.DictReader(io.StringIO(storage.read("quarantine/sub/a.rejected.csv").decode())))
    assert [(row["line"], row["note"]) for row in rows] == [
        ("3", "negative"),
        ("4", '\'=HYPERLINK("http://x")'),
        ("5", "kept"),
    ]
    assert rows[0]["price"] == "-7000" and rows[0]["reason"].startswith("price: ")
    assert rows[1]["reason"].startswith("cut: ") and "Perfect" in rows[1]["reason"]
    assert rows[2]["reason"] == "row: exact duplicate of line 2"


def test_a_file_with_nothing_rejected_gets_a_report_alone(storage: Storage) -> None:
    report = write_quarantine(storage, "a.csv", SOURCE, read_records(data_file(GOOD)))
    assert (report["usable"], report["accepted"], report["rejected"]) == (True, 1, 0)
    assert "rejected_rows" not in report
    assert storage.list("quarantine/") == ["quarantine/a.report.json"]


def test_an_unusable_file_gets_a_report_naming_why(storage: Storage) -> None:
    report = write_quarantine(storage, "a.csv", SOURCE, error="the file is empty")
    assert report == {"source": SOURCE, "usable": False, "error": "the file is empty"}
    assert json.loads(storage.read("quarantine/a.report.json")) == report
    assert storage.list("quarantine/") == ["quarantine/a.report.json"]
