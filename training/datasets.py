"""The embedded default data: the classic public diamonds file that the plotnine package ships."""

from __future__ import annotations

import importlib.util
from pathlib import Path


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
