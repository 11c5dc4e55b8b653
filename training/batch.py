"""Pricing a whole file of stones with the champion: a price for every valid row, an error for
every other row, never a made-up price."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.appraisal import appraise
from training.features import GROUPS
from training.record import FEATURES
from training.registry import NoChampion, Registry
from training.spreadsheet import spreadsheet_csv
from training.validation import read_records


def price_file(registry: Registry, data: bytes, target: Path, *, explain: bool = False) -> dict:
    """Write `target`: the input's columns, then price, price_low, price_high, (factors,)
    model_version and error, safe to open in a spreadsheet. Returns counts."""
    champion = registry.champion()
    if champion is None:
        raise NoChampion("no champion model yet: train one first (diamonds train FILE)")
    model, _ = registry.load(champion["version"])
    result = read_records(data, columns=FEATURES, reject_duplicates=False)
    out = result.raw.set_index("line")
    errors = result.rejected.set_index("line")["reason"].reindex(out.index).fillna("")
    accepted = result.accepted.set_index("line")
    appraisal = appraise(model, accepted, explain=explain)
    for line, problems in zip(accepted.index, appraisal.problems, strict=True):
        if problems:
            errors[line] = "; ".join(f"{f}: {m}" for f, m in problems)
    lines = accepted.index[appraisal.priced]
    for column, values in (
        ("price", appraisal.price),
        ("price_low", appraisal.low),
        ("price_high", appraisal.high),
    ):
        out[column] = np.nan
        out.loc[lines, column] = np.round(values[appraisal.priced], 2)
    if explain and appraisal.log_factors is not None and appraisal.base is not None:
        for group, values in zip(GROUPS, appraisal.log_factors.T, strict=True):
            out[f"factor_{group}"] = np.nan
            out.loc[lines, f"factor_{group}"] = np.round(np.exp(values), 6)
        out["base_price"] = np.nan
        out.loc[lines, "base_price"] = round(float(np.exp(appraisal.base)), 2)
    out["model_version"] = champion["version"]
    out["error"] = errors
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(spreadsheet_csv(out.reset_index(drop=True)))
    return {
        "rows": result.rows_read,
        "priced": len(lines),
        "refused": int(result.rows_read - len(lines)),
        "version": champion["version"],
    }
