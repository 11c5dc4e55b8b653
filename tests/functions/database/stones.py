"""Stones for the database tests."""

from __future__ import annotations

from typing import Any

from training.record import CARAT_PER_MM3

DEPTH = 61.5


def stone(carat: float = 0.5, **fields: Any) -> dict[str, Any]:
    """A plausible round stone of `carat`: its dimensions agree with its weight and depth."""
    width = (carat / (CARAT_PER_MM3 * DEPTH / 100)) ** (1 / 3)
    record = {
        "carat": carat,
        "cut": "Ideal",
        "color": "G",
        "clarity": "VS1",
        "depth": DEPTH,
        "table": 57.0,
        "x": round(width, 2),
        "y": round(width, 2),
        "z": round(width * DEPTH / 100, 2),
        "price": 1000.0,
    }
    return {**record, **fields}
