"""Reading a data file: every row is either accepted or rejected with its reason.

Accepted + rejected = rows read, always. A file that cannot be used at all raises UnusableFile
with one clear message.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.geometry import MEASURES, FieldProblem, implausibilities
from training.price_rule import price_implausibilities
from training.record import CATEGORIES, COLUMNS, FIELD_BY_NAME, canonical_grade

MAX_FIELD_CHARS = 200
CUT_OFF = (
    "the file ends inside this line (no line end after it): it may have been cut off while "
    "the file was being written; end the file with a line break"
)


class UnusableFile(ValueError):
    """The file as a whole cannot be used: not text, not a CSV, no rows, columns missing."""


@dataclass
class ValidationResult:
    """The outcome of validating one file."""

    accepted: pd.DataFrame
    """The valid rows' checked fields, typed, with their file `line`."""
    rejected: pd.DataFrame
    """The raw rows as read (strings), their `line` and `reason`."""
    rows_read: int
    ignored_columns: list[str] = field(default_factory=list)
    raw: pd.DataFrame | None = None
    """Every row as read (all columns, strings) with its `line`."""

    def report(self) -> dict:
        counts: dict[str, int] = {}
        for reason in self.rejected["reason"]:
            for part in reason.split("; "):
                kind = part.split(":", 1)[0]
                counts[kind] = counts.get(kind, 0) + 1
        return {
            "rows_read": self.rows_read,
            "accepted": len(self.accepted),
            "rejected": len(self.rejected),
            "rejected_by_field": dict(sorted(counts.items())),
            "ignored_columns": self.ignored_columns,
        }


def normalise_header(name: str) -> str:
    return "_".join(name.strip().lower().split())


def _decode(data: bytes) -> str:
    if not data.strip():
        raise UnusableFile("the file is empty")
    if b"\x00" in data[:65536]:
        raise UnusableFile("the file is binary, not a CSV text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnusableFile(
            f"the file is not UTF-8 text (undecodable byte at position {exc.start})"
        ) from None


def _read_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise UnusableFile(f"the file is not a readable CSV: {exc}") from None
    return [normalise_header(h) for h in header], rows


def read_records(
    data: bytes, *, columns: tuple[str, ...] = COLUMNS, reject_duplicates: bool = True
) -> ValidationResult:
    """Validate the bytes of a CSV file of diamonds.

    `columns` are the record fields required and checked (FEATURES for stones to be priced);
    other columns are carried along untouched in `raw` and in the rejected rows.
    """
    text = _decode(data)
    header, rows = _read_rows(text)
    required = columns
    missing = [c for c in required if c not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (the file does not seem to be comma-separated)"
        raise UnusableFile(f"required columns missing: {', '.join(missing)}{hint}")
    repeated = sorted({h for h in header if header.count(h) > 1 and h in columns})
    if repeated:
        raise UnusableFile(f"columns appear more than once: {', '.join(repeated)}")
    if not rows:
        raise UnusableFile("the file has a header but no data rows")
    wanted = [c for c in columns if c in header]
    ignored = [h for h in header if h not in columns]
    names = _unique(header)

    problems: list[list[FieldProblem]] = []
    raw: list[list[str]] = []
    lines: list[int] = []
    for line, row in rows:
        lines.append(line)
        if len(row) != len(header):
            problems.append([("row", f"has {len(row)} fields where the header has {len(header)}")])
            row = (row + [""] * len(header))[: len(header)]
        else:
            problems.append([])
        raw.append(row)
    frame = pd.DataFrame(raw, columns=names, dtype=object)
    typed = _typed_columns(frame[[names[header.index(c)] for c in wanted]], wanted, problems)
    _check_geometry(typed, problems)
    if "price" in typed:
        _check_price(typed, problems)
    if reject_duplicates:
        _check_duplicates(typed, lines, problems)

    if "price" in columns and _cut_off(text):
        problems[-1].append(("row", CUT_OFF))

    bad = np.array([bool(p) for p in problems], dtype=bool)
    accepted = pd.DataFrame({c: typed[c][~bad] for c in wanted})
    accepted.insert(0, "line", np.asarray(lines)[~bad])
    for name, values in CATEGORIES.items():
        accepted[name] = pd.Categorical(accepted[name], categories=values, ordered=True)
    frame.insert(0, "line", lines)
    frame["reason"] = ["; ".join(f"{f}: {m}" for f, m in p) for p in problems]
    rejected = frame[bad].reset_index(drop=True)
    return ValidationResult(
        accepted.reset_index(drop=True), rejected, len(rows), ignored, frame.drop(columns="reason")
    )


def _cut_off(text: str) -> bool:
    """Whether the text's last line holds something but no line end: a file of appraisals cut
    off mid-copy ends that way (2.599 read as 2.5), so its last row is no stone."""
    return bool(text[-1:]) and text[-1] not in "\r\n" and bool(text.rpartition("\n")[2].strip())


def _unique(header: list[str]) -> list[str]:
    """Column names made unique (an ignored column may be repeated or unnamed)."""
    names: list[str] = []
    for i, name in enumerate(header):
        names.append(name if name and name not in names else f"{name or 'column'}_{i + 1}")
    return names


def _typed_columns(
    frame: pd.DataFrame, names: list[str], problems: list[list[FieldProblem]]
) -> dict[str, np.ndarray]:
    typed: dict[str, np.ndarray] = {}
    for name, column in zip(names, frame.columns, strict=True):
        cells = frame[column].to_numpy()
        if name in CATEGORIES:
            typed[name] = _category(name, cells, problems)
        else:
            typed[name] = _number(name, cells, problems)
    return typed


def _category(name: str, cells: np.ndarray, problems: list[list[FieldProblem]]) -> np.ndarray:
    out = np.empty(len(cells), dtype=object)
    for i, cell in enumerate(cells):
        value = " ".join(str(cell).split())
        if not value:
            problems[i].append((name, "missing value"))
        elif (grade := canonical_grade(name, value)) is not None:
            out[i] = grade
        else:
            shown = value[:40] + ("…" if len(value) > 40 else "")
            known = ", ".join(CATEGORIES[name])
            problems[i].append((name, f"unknown {name} {shown!r} (known: {known})"))
    return out


def _number(name: str, cells: np.ndarray, problems: list[list[FieldProblem]]) -> np.ndarray:
    spec = FIELD_BY_NAME[name]
    out = np.full(len(cells), np.nan)
    for i, cell in enumerate(cells):
        text = str(cell).strip()
        if not text:
            problems[i].append((name, "missing value"))
            continue
        try:
            value = float(text) if len(text) <= MAX_FIELD_CHARS else None
        except ValueError:
            value = None
        if value is None:
            shown = text[:40] + ("…" if len(text) > 40 else "")
            problems[i].append((name, f"not a number: {shown!r}"))
        elif not math.isfinite(value):
            problems[i].append((name, f"not a finite number: {text}"))
        elif value <= spec.low:
            problems[i].append((name, f"must be greater than {spec.low:g}, got {value:g}"))
        elif value > spec.high:
            problems[i].append(
                (name, f"{value:g} {spec.unit} is beyond the plausible maximum {spec.high:g}")
            )
        else:
            out[i] = value
    return out


def _check_geometry(typed: dict[str, np.ndarray], problems: list[list[FieldProblem]]) -> None:
    measured = np.column_stack([typed[n] for n in MEASURES])
    usable = np.flatnonzero(np.isfinite(measured).all(axis=1))
    found = implausibilities(*(measured[usable, k] for k in range(len(MEASURES))))
    for i, row_problems in zip(usable, found, strict=True):
        problems[i].extend(row_problems)


def _check_price(typed: dict[str, np.ndarray], problems: list[list[FieldProblem]]) -> None:
    """Prices that are numbers in range but no appraisal for the stone's weight."""
    carat, price = typed["carat"], typed["price"]
    usable = np.flatnonzero(np.isfinite(carat) & np.isfinite(price))
    found = price_implausibilities(carat[usable], price[usable])
    for i, row_problems in zip(usable, found, strict=True):
        problems[i].extend(row_problems)


def _check_duplicates(
    typed: dict[str, np.ndarray], lines: list[int], problems: list[list[FieldProblem]]
) -> None:
    first_seen: dict[tuple, int] = {}
    for i, key in enumerate(zip(*typed.values(), strict=True)):
        if problems[i]:
            continue
        if key in first_seen:
            problems[i].append(("row", f"exact duplicate of line {first_seen[key]}"))
        else:
            first_seen[key] = lines[i]
