"""What a team would build instead, the peer of the serving benchmarks: FastAPI under uvicorn,
a pydantic body, a LightGBM model of the same stones (the grades as categories, the log of the
price learned), priced in the event loop, one stone on one thread (LightGBM's advice for
single rows). No interval, no explanation, no log, no key.

Trained and served by `latency.py` and `cold_start.py`; by hand:

    python benchmarks/peer_service.py train CSV MODEL.txt
    PEER_MODEL=MODEL.txt uvicorn --app-dir benchmarks --factory peer_service:create_app --workers 2
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

GRADES = ("cut", "color", "clarity")
FEATURES = ("carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z")
PARAMS = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 63, "verbosity": -1}
ROUNDS = 600


class Stone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carat: float = Field(gt=0)
    cut: str
    color: str
    clarity: str
    depth: float = Field(gt=0)
    table: float = Field(gt=0)
    x: float = Field(gt=0)
    y: float = Field(gt=0)
    z: float = Field(gt=0)


def train(csv: Path, out: Path) -> None:
    """Fit the booster on the file's usable rows; save it to `out` and its grades beside it."""
    frame = pd.read_csv(csv).dropna(subset=[*FEATURES, "price"])
    frame = frame[(frame["price"] > 0) & (frame[["carat", "x", "y", "z"]] > 0).all(axis=1)]
    grades = {g: sorted(frame[g].astype(str).unique()) for g in GRADES}
    codes = {g: {v: i for i, v in enumerate(values)} for g, values in grades.items()}
    rows = np.column_stack(
        [frame[f].astype(str).map(codes[f]) if f in codes else frame[f] for f in FEATURES]
    ).astype(float)
    data = lgb.Dataset(rows, np.log(frame["price"]), categorical_feature=[1, 2, 3])
    lgb.train(PARAMS, data, ROUNDS).save_model(str(out))
    out.with_suffix(".json").write_text(json.dumps(grades))


def create_app(model_path: str | None = None) -> FastAPI:
    """POST /v1/price with one stone answers {"price": ...}; POST /v1/prices with a list of
    stones answers {"prices": [...]}."""
    path = Path(model_path or os.environ["PEER_MODEL"])
    booster = lgb.Booster(model_file=str(path))
    grades = json.loads(path.with_suffix(".json").read_text())
    codes = {g: {v: float(i) for i, v in enumerate(values)} for g, values in grades.items()}

    def rows(stones: list[Stone]) -> np.ndarray:
        return np.array(
            [
                [codes[f].get(v, np.nan) if f in codes else v for f, v in s.model_dump().items()]
                for s in stones
            ]
        )

    app = FastAPI()

    @app.post("/v1/price")
    async def price(stone: Stone) -> dict:
        return {"price": float(np.exp(booster.predict(rows([stone]), num_threads=1)[0]))}

    @app.post("/v1/prices")
    async def prices(stones: list[Stone]) -> dict:
        return {"prices": np.exp(booster.predict(rows(stones))).tolist()}

    return app


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "train":
        raise SystemExit(__doc__)
    train(Path(sys.argv[2]), Path(sys.argv[3]))
