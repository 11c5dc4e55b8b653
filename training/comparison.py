"""Candidate models side by side under the same cross-validation folds.

Used by `benchmarks/accuracy.py` and by the notebook, so that the figures they show come from
one piece of code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.evaluation import metrics
from training.features import linear_terms
from training.model import ModelParams, PriceModel
from training.splits import kfold_indices

Predictor = Callable[[np.ndarray], np.ndarray]
Fitter = Callable[[np.ndarray, np.ndarray], Predictor]


def first_attempt(X: np.ndarray, price: np.ndarray) -> Predictor:
    """The usual first attempt: ordinary least squares of log price on the nine ordinal-encoded
    characteristics."""
    design = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(design, np.log(price), rcond=None)
    return lambda Z: np.exp(np.column_stack([np.ones(len(Z)), Z]) @ coef)


def log_linear(X: np.ndarray, price: np.ndarray) -> Predictor:
    """Our backbone alone: a cubic in log carat and one step per grade."""
    terms, _ = linear_terms(X)
    design = np.column_stack([np.ones(len(X)), terms])
    coef, *_ = np.linalg.lstsq(design, np.log(price), rcond=None)
    return lambda Z: np.exp(np.column_stack([np.ones(len(Z)), linear_terms(Z)[0]]) @ coef)


def untuned_boosting(X: np.ndarray, price: np.ndarray) -> Predictor:
    """LightGBM with its defaults on log price and the nine characteristics."""
    import lightgbm

    booster = lightgbm.train({"verbosity": -1, "seed": 0}, lightgbm.Dataset(X, np.log(price)))
    return lambda Z: np.exp(booster.predict(Z))


def ours(params: ModelParams | None = None) -> Fitter:
    def fit(X: np.ndarray, price: np.ndarray) -> Predictor:
        model = PriceModel(params)
        model._fit_point(X, np.log(price))
        return model.predict

    return fit


CANDIDATES: dict[str, Fitter] = {
    "first attempt (OLS on log price, ordinal codes)": first_attempt,
    "log-linear backbone": log_linear,
    "gradient boosting, untuned": untuned_boosting,
    "ours (backbone + tuned boosting)": ours(),
}


@dataclass
class Score:
    name: str
    metrics: dict[str, float]
    fit_seconds: float
    predicted: np.ndarray


def compare(
    X: np.ndarray,
    price: np.ndarray,
    candidates: dict[str, Fitter] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> list[Score]:
    """K-fold cross-validation of every candidate on the same folds."""
    splits = kfold_indices(len(price), folds, seed)
    scores = []
    for name, fit in (candidates or CANDIDATES).items():
        predicted = np.empty(len(price))
        started = time.perf_counter()
        for train, test in splits:
            predicted[test] = fit(X[train], price[train])(X[test])
        seconds = (time.perf_counter() - started) / folds
        scores.append(Score(name, metrics(price, predicted), seconds, predicted))
    return scores
