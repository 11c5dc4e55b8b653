"""How good a model is: cross-validation, a held-out split, and errors by carat band."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from training.features import feature_matrix
from training.fingerprints import fingerprints
from training.model import INTERVAL_CARAT_EDGES, ModelParams, PriceModel
from training.record import FEATURES
from training.splits import kfold_indices

if TYPE_CHECKING:
    import pandas as pd

    from training.fingerprints import TrainingRows

CARAT_BANDS: tuple[tuple[float, float], ...] = tuple(
    pairwise((*INTERVAL_CARAT_EDGES, float("inf")))
)
"""The carat bands errors are reported by: those the interval is calibrated by."""


def metrics(
    price: np.ndarray,
    predicted: np.ndarray,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> dict[str, float]:
    """MAE and RMSE in dollars, MAPE in %, R², the interval's coverage (the share of prices
    inside it, a fraction like the coverage it is calibrated to) and its median width (% of
    the price)."""
    price, predicted = np.asarray(price, float), np.asarray(predicted, float)
    error = predicted - price
    result = {
        "n": len(price),
        "mae": float(np.mean(np.abs(error))),
        "mape": float(np.mean(np.abs(error) / price) * 100),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "r2": float(1 - np.sum(error**2) / np.sum((price - price.mean()) ** 2)),
    }
    if low is not None and high is not None:
        result["coverage"] = float(np.mean((price >= low) & (price <= high)))
        result["median_relative_width"] = float(np.median((high - low) / predicted) * 100)
    return result


def fresh_error(
    model: PriceModel, seen: TrainingRows, records: pd.DataFrame
) -> tuple[float | None, int, float | None]:
    """The MAPE (%) of `model` on the priced records it was not trained on (not among `seen`,
    its training rows) and would price (inside its domain), how many stones that is, and the
    share of them inside its interval: the model's accuracy on fresh appraisals."""
    fresh = ~seen.seen(fingerprints(records))
    X = feature_matrix(records)[fresh]
    price = records["price"].to_numpy(dtype=float)[fresh]
    priced = np.array([not problems for problems in model.out_of_domain(X)], dtype=bool)
    if not priced.any():
        return None, 0, None
    X, price = X[priced], price[priced]
    predicted = model.predict(X)
    found = metrics(price, predicted, *model.interval(X, predicted))
    return found["mape"], int(priced.sum()), found["coverage"]


def by_carat_band(
    carat: np.ndarray,
    price: np.ndarray,
    predicted: np.ndarray,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> list[dict[str, float | str]]:
    rows = []
    for start, end in CARAT_BANDS:
        inside = (carat >= start) & (carat < end)
        if inside.sum() >= 2:
            label = f"{start:g}–{end:g} ct" if np.isfinite(end) else f"≥ {start:g} ct"
            bounds = (low[inside], high[inside]) if low is not None and high is not None else ()
            rows.append({"band": label, **metrics(price[inside], predicted[inside], *bounds)})
    return rows


@dataclass
class CrossValidation:
    summary: dict
    log_residuals: np.ndarray
    predicted: np.ndarray


def cross_validate(
    X: np.ndarray, price: np.ndarray, params: ModelParams, folds: int = 5
) -> CrossValidation:
    """K-fold CV of the point model; its out-of-fold log residuals calibrate the interval."""
    predicted = np.empty(len(price))
    for train, test in kfold_indices(len(price), folds, params.seed):
        model = PriceModel(params)
        model._fit_point(X[train], np.log(price[train]))
        predicted[test] = model.predict(X[test])
    carat = X[:, FEATURES.index("carat")]
    summary = {
        "folds": folds,
        **metrics(price, predicted),
        "by_carat": by_carat_band(carat, price, predicted),
    }
    return CrossValidation(summary, np.log(price) - np.log(predicted), predicted)


def mape_standard_error(price: np.ndarray, predicted: np.ndarray) -> float:
    """The standard error (in points) of the MAPE of these stones as an estimate of the MAPE of
    the population they were sampled from: the spread of their percentage errors over the
    square root of their number (one standard error; three are a wide margin)."""
    errors = np.abs(predicted - price) / price * 100
    return float(errors.std(ddof=1) / np.sqrt(len(errors))) if len(errors) > 1 else float("nan")


def evaluate_holdout(
    model: PriceModel, X: np.ndarray, price: np.ndarray
) -> dict[str, float | list]:
    predicted = model.predict(X)
    low, high = model.interval(X, predicted)
    carat = X[:, FEATURES.index("carat")]
    return {
        **metrics(price, predicted, low, high),
        "by_carat": by_carat_band(carat, price, predicted, low, high),
    }
