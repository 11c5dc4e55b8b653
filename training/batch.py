"""Pricing a whole file of stones with the champion: a price for every valid row, an error for
every other row, never a made-up price."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.features import GROUPS, feature_matrix
from training.registry import NoChampion, Registry
from training.schema import FEATURES
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
    X = feature_matrix(accepted)
    outside = model.out_of_domain(X)
    refused = np.array([bool(p) for p in outside], dtype=bool)
    for line, problems in zip(
        accepted.index[refused], np.array(outside, dtype=object)[refused], strict=True
    ):
        errors[line] = "; ".join(f"{f}: {m}" for f, m in problems)
    lines, X = accepted.index[~refused], X[~refused]
    price = model.predict(X)
    low, high = model.interval(X, price)
    for column, values in (("price", price), ("price_low", low), ("price_high", high)):
        out[column] = np.nan
        out.loc[lines, column] = np.round(values, 2)
    if explain:
        base, log_factors = model.log_factors(X)
        for group, values in zip(GROUPS, log_factors.T, strict=True):
            out[f"factor_{group}"] = np.nan
            out.loc[lines, f"factor_{group}"] = np.round(np.exp(values), 6)
        out["base_price"] = np.nan
        out.loc[lines, "base_price"] = round(float(np.exp(base)), 2)
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
