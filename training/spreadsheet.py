"""CSV files written for people (priced files, quarantined rows) are opened in spreadsheets,
which run a cell starting with =, +, -, @, a tab or a carriage return as a formula: a stone's
cut of `=HYPERLINK(...)` in a data file would come back live (CSV injection).

Such a text cell is written with a leading apostrophe, so that a spreadsheet shows it as text;
a number stays a number (a price of -1 is still -1). Files kept for the record (incoming/, the
snapshots a run trains on) are never rewritten. The pricing desk's download applies the same
rule (functions/web/csv.js).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def as_text(cell: object) -> object:
    """`cell`, prefixed with ' if a spreadsheet would read it as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def spreadsheet_csv(frame: pd.DataFrame) -> bytes:
    """`frame` (header and cells) as a CSV file safe to open in a spreadsheet. Lines end in
    CRLF (RFC 4180), so that a cell holding a carriage return is quoted and stays one cell."""
    safe = frame.map(as_text)
    safe.columns = [as_text(name) for name in frame.columns]
    return safe.to_csv(index=False, lineterminator="\r\n").encode()
