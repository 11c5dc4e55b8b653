"""The embedded default data: the classic public diamonds file that the plotnine package ships,
and inventories grown from it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def public_diamonds_path() -> Path:
    """Path of plotnine's diamonds.csv (53,940 stones), found without importing plotnine."""
    spec = importlib.util.find_spec("plotnine")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded data set needs the plotnine package: pip install 'diamonds[local]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "diamonds.csv"
    if not path.is_file():
        raise FileNotFoundError(f"plotnine is installed but has no {path.name}")
    return path


def grown_inventory(stones: int, seed: int = 0) -> pd.DataFrame:
    """`stones` distinct, plausible records (training.record.COLUMNS) grown from the public
    data set, for measuring the pipeline at sizes the public set does not reach: each a public
    stone scaled by a few percent (its carat by the cube of the scale, its price by the carat
    to the power 1.8, with 2% of noise), its depth and table nudged, rounded as appraisals are,
    and kept only if the geometry rule finds its measurements consistent."""
    import numpy as np
    import pandas as pd

    from training.geometry import implausibilities
    from training.record import COLUMNS
    from training.validation import read_records

    public = read_records(public_diamonds_path().read_bytes()).accepted[list(COLUMNS)]
    rng = np.random.default_rng(seed)
    grown = public.iloc[:0]
    while len(grown) < stones:
        draw = public.iloc[rng.integers(0, len(public), stones - len(grown) + 1000)]
        scale = np.exp(rng.normal(0.0, 0.03, len(draw)))
        stone = draw.assign(
            carat=(draw["carat"] * scale**3).round(2),
            depth=(draw["depth"] + rng.normal(0.0, 0.2, len(draw))).round(1),
            table=(draw["table"] + rng.normal(0.0, 0.3, len(draw))).round(0),
            **{axis: (draw[axis] * scale).round(2) for axis in ("x", "y", "z")},
        )
        growth = (stone["carat"] / draw["carat"]) ** 1.8 * np.exp(rng.normal(0, 0.02, len(draw)))
        stone = stone.assign(price=(draw["price"] * growth).round(0))
        problems = implausibilities(*(stone[name] for name in ("carat", "depth", "x", "y", "z")))
        plausible = stone[[not found for found in problems] & (stone["carat"] > 0).to_numpy()]
        grown = pd.concat([grown, plausible]).drop_duplicates(ignore_index=True)
    return grown.iloc[:stones].reset_index(drop=True)
