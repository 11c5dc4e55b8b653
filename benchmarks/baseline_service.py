"""The usual first attempt at a price service, the baseline of the serving benchmarks: a plain
Flask app that imports pandas and scikit-learn at start, unpickles a LinearRegression on one-hot
grades + the numeric measurements, and prices one stone per request through a DataFrame.

Trained and served by `cold_start.py` and `latency.py`; by hand:

    python benchmarks/baseline_service.py train CSV MODEL.pkl
    BASELINE_MODEL=MODEL.pkl gunicorn --pythonpath benchmarks 'baseline_service:create_app()'
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pandas as pd
from flask import Flask, Response, jsonify, request
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

GRADES = ["cut", "color", "clarity"]
MEASUREMENTS = ["carat", "depth", "table", "x", "y", "z"]
FEATURES = ["carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z"]


def train(csv: Path, out: Path) -> None:
    """Fit the pipeline on the file's usable rows and pickle it to `out`."""
    frame = pd.read_csv(csv).dropna(subset=[*FEATURES, "price"])
    frame = frame[(frame["price"] > 0) & (frame[["carat", "x", "y", "z"]] > 0).all(axis=1)]
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("grades", OneHotEncoder(handle_unknown="ignore"), GRADES)],
                    remainder="passthrough",
                ),
            ),
            ("regression", LinearRegression()),
        ]
    )
    model.fit(frame[FEATURES], frame["price"])
    with out.open("wb") as file:
        pickle.dump(model, file)


def create_app(model_path: str | None = None) -> Flask:
    """The Flask app: POST /v1/price with one stone's JSON answers {"price": ...}."""
    with open(model_path or os.environ["BASELINE_MODEL"], "rb") as file:
        model = pickle.load(file)
    app = Flask(__name__)

    @app.post("/v1/price")
    def price() -> Response:
        stone = request.get_json()
        frame = pd.DataFrame([stone], columns=FEATURES)
        return jsonify(price=float(model.predict(frame)[0]))

    return app


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "train":
        raise SystemExit(__doc__)
    train(Path(sys.argv[2]), Path(sys.argv[3]))
