"""Analysis helpers for the model-development notebook (`import analysis` beside it).

Plain functions on arrays and data frames: carat-controlled grade comparisons, errors by group,
a learning curve with its power-law extrapolation, and the data behind an explanation's
waterfall chart. The models, features and metrics themselves come from `training`; nothing here
fits a price model of its own. It lives beside the notebook, not in `training`, so that neither
the functions' source archive nor the training image carries it. Plotting helpers import
matplotlib lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from training.evaluation import metrics
from training.features import GROUPS
from training.model import PriceBreakdown, PriceModel
from training.splits import kfold_indices

if TYPE_CHECKING:
    from training.comparison import Fitter, Predictor


# -- the data and its faults ----------------------------------------------------------------------
FAULT_KINDS: tuple[str, ...] = (
    "price missing or not positive",
    "zero or missing dimension",
    "exact duplicate",
    "measurements contradict each other",
    "other",
)


def fault_kind(reason: str) -> str:
    """The kind of fault behind a quarantine reason from `training.validation` (one of
    FAULT_KINDS), for counting the faults of a file by what they say about how it was kept."""
    parts = reason.split("; ")
    if any(p.split(":", 1)[0] in ("x", "y", "z") for p in parts):
        return FAULT_KINDS[1]
    if any(p.startswith("price:") for p in parts):
        return FAULT_KINDS[0]
    if any("exact duplicate" in p for p in parts):
        return FAULT_KINDS[2]
    if any("describe a stone of about" in p or "disagrees with" in p for p in parts):
        return FAULT_KINDS[3]
    return FAULT_KINDS[4]


# -- how the grades drive the price ---------------------------------------------------------------
def carat_adjusted(carat: np.ndarray, price: np.ndarray, degree: int = 3) -> np.ndarray:
    """Each stone's log price minus what its carat alone predicts (a polynomial in log carat
    fitted to log price over the stones given): 0.1 means about 10% dearer than a typical stone
    of the same carat. For a plot of what remains once weight is accounted for."""
    log_carat = np.log(np.asarray(carat, dtype=float))
    log_price = np.log(np.asarray(price, dtype=float))
    coef = np.polyfit(log_carat, log_price, degree)
    return log_price - np.polyval(coef, log_carat)


def grade_effects(
    carat: np.ndarray, grade: Sequence, price: np.ndarray, order: Sequence[str], degree: int = 3
) -> pd.DataFrame:
    """Raw averages next to carat-controlled comparisons, one row per grade (worst first).

    Columns: `stones`, `mean_carat`, `mean_price`; `raw_ratio`: the grade's mean price over the
    worst grade's; `at_equal_carat`: the grade's price relative to the worst grade's for stones of
    the same carat, from a least-squares fit of log price on a polynomial in log carat plus one
    step per grade (so a bigger stone in a worse grade no longer flatters that grade).
    """
    carat = np.asarray(carat, dtype=float)
    price = np.asarray(price, dtype=float)
    labels = np.asarray(grade, dtype=object).astype(str)
    order = [str(g) for g in order]
    present = [g for g in order if (labels == g).any()]
    log_carat = np.log(carat)
    powers = [log_carat**k for k in range(degree + 1)]
    steps = [(labels == g).astype(float) for g in present[1:]]
    coef, *_ = np.linalg.lstsq(np.column_stack(powers + steps), np.log(price), rcond=None)
    step = dict(zip(present, np.r_[0.0, coef[degree + 1 :]], strict=True))
    rows = []
    for g in order:
        inside = labels == g
        rows.append(
            {
                "grade": g,
                "stones": int(inside.sum()),
                "mean_carat": carat[inside].mean() if inside.any() else np.nan,
                "mean_price": price[inside].mean() if inside.any() else np.nan,
                "at_equal_carat": np.exp(step[g]) if g in step else np.nan,
            }
        )
    table = pd.DataFrame(rows).set_index("grade")
    reference = table.loc[present[0], "mean_price"] if present else np.nan
    table.insert(3, "raw_ratio", table["mean_price"] / reference)
    return table


def binned_medians(
    carat: np.ndarray,
    grade: Sequence,
    price: np.ndarray,
    edges: Sequence[float],
    min_stones: int = 5,
) -> pd.DataFrame:
    """Median price of each grade within carat bands: one row per (grade, band) with enough
    stones. Columns: grade, carat (the band's median carat), price (median), stones."""
    frame = pd.DataFrame(
        {
            "grade": np.asarray(grade, dtype=object).astype(str),
            "carat": np.asarray(carat, dtype=float),
            "price": np.asarray(price, dtype=float),
        }
    )
    frame["band"] = pd.cut(frame["carat"], np.asarray(edges, dtype=float), right=False)
    table = (
        frame.groupby(["grade", "band"], observed=True)
        .agg(carat=("carat", "median"), price=("price", "median"), stones=("price", "size"))
        .reset_index()
    )
    return table[table["stones"] >= min_stones].drop(columns="band").reset_index(drop=True)


# -- errors ---------------------------------------------------------------------------------------
def errors_by(
    group: Sequence, price: np.ndarray, predicted: np.ndarray, order: Sequence[str] | None = None
) -> pd.DataFrame:
    """`training.evaluation.metrics` for each group of stones (e.g. each cut grade)."""
    labels = np.asarray(group, dtype=object).astype(str)
    price, predicted = np.asarray(price, dtype=float), np.asarray(predicted, dtype=float)
    names = list(order) if order is not None else sorted(set(labels))
    rows = []
    for name in names:
        inside = labels == name
        if inside.sum() >= 2:
            rows.append({"group": name, **metrics(price[inside], predicted[inside])})
    return pd.DataFrame(rows).set_index("group")


def worst_predictions(
    records: pd.DataFrame, price: np.ndarray, predicted: np.ndarray, k: int = 10
) -> pd.DataFrame:
    """The k stones whose predicted price is furthest from the appraised one, in ratio terms,
    with their characteristics, the prediction and `ratio` = predicted / appraised."""
    price, predicted = np.asarray(price, dtype=float), np.asarray(predicted, dtype=float)
    ratio = predicted / price
    order = np.argsort(-np.abs(np.log(ratio)), kind="stable")[:k]
    table = records.iloc[order].copy()
    table["predicted"] = predicted[order].round(0)
    table["ratio"] = ratio[order].round(3)
    return table


def untuned_boosting_raw_price(X: np.ndarray, price: np.ndarray) -> Predictor:
    """`training.comparison.untuned_boosting` with the price itself as the target instead of its
    log (predictions floored at $1): the counterpart that shows what the log target is worth."""
    import lightgbm

    booster = lightgbm.train({"verbosity": -1, "seed": 0}, lightgbm.Dataset(X, price))
    return lambda Z: np.maximum(booster.predict(Z), 1.0)


# -- is more data worth it? ------------------------------------------------------------------------
def learning_curve(
    X: np.ndarray,
    price: np.ndarray,
    fit: Fitter,
    sizes: Sequence[int],
    folds: int = 3,
    repeats: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """Cross-validated error against the number of training stones.

    For each of `repeats` shufflings into `folds` folds, and each size n, the model is fitted on
    n stones drawn from the training folds and scored on the whole held-out fold (always the same
    stones for every n, so that the sizes compare fairly). Sizes larger than a training part are
    clipped to it. One row per (repeat, fold, size): n_train, and the metrics (mape, mae, ...).
    """
    X, price = np.asarray(X, dtype=float), np.asarray(price, dtype=float)
    rows = []
    for repeat in range(repeats):
        rng = np.random.default_rng(seed + 1000 + repeat)
        for fold, (train, test) in enumerate(kfold_indices(len(price), folds, seed + repeat)):
            shuffled = rng.permutation(train)
            for size in sizes:
                chosen = shuffled[: min(int(size), len(train))]
                predicted = fit(X[chosen], price[chosen])(X[test])
                rows.append(
                    {
                        "repeat": repeat,
                        "fold": fold,
                        "n_train": len(chosen),
                        **metrics(price[test], predicted),
                    }
                )
    return pd.DataFrame(rows)


def fit_power_law(
    n: np.ndarray, error: np.ndarray, floor: bool = False
) -> tuple[float, float, float]:
    """(a, b, c) of error ≈ c + a · n^(-b), by least squares.

    Without `floor`, c = 0 and the fit is a straight line of log error against log n: a pure
    power law, which keeps falling forever, so its extrapolations are the most one could hope
    for. With `floor`, c (the error no amount of data removes, e.g. the noise of the appraisals
    themselves) is chosen on a fine grid in [0, min(error)) to minimise the squared error.
    """
    log_n = np.log(np.asarray(n, dtype=float))
    error = np.asarray(error, dtype=float)
    floors = np.linspace(0.0, error.min(), 1001)[:-1] if floor else np.zeros(1)
    best: tuple[float, float, float, float] | None = None
    for c in floors:
        slope, intercept = np.polyfit(log_n, np.log(error - c), 1)
        a, b = float(np.exp(intercept)), float(-slope)
        loss = float(np.sum((power_law(np.exp(log_n), a, b, c) - error) ** 2))
        if best is None or loss < best[0]:
            best = (loss, a, b, float(c))
    assert best is not None
    return best[1], best[2], best[3]


def power_law(n: np.ndarray | float, a: float, b: float, c: float = 0.0) -> np.ndarray:
    """c + a · n^(-b)."""
    return c + a * np.asarray(n, dtype=float) ** (-b)


# -- the why behind a price -----------------------------------------------------------------------
def waterfall_steps(explanation: PriceBreakdown) -> pd.DataFrame:
    """From the base price to the price, one characteristic at a time.

    One row per factor: `group`, `label` (e.g. "color G"), `factor`, and the running price
    before (`start`) and after (`end`) applying it; the last `end` is the price.
    """
    rows = []
    running = explanation.base_price
    for group, factor in explanation.factors.items():
        rows.append(
            {
                "group": group,
                "label": explanation.labels.get(group, group),
                "factor": factor,
                "start": running,
                "end": running * factor,
            }
        )
        running *= factor
    return pd.DataFrame(rows)


def log_factors(model: PriceModel, X: np.ndarray) -> pd.DataFrame:
    """The natural log of each explanation factor, one row per stone and one column per group
    (positive: the characteristic raises the price above the base price)."""
    rows = [
        [np.log(model.explain(x).factors[g]) for g in GROUPS] for x in np.asarray(X, dtype=float)
    ]
    return pd.DataFrame(rows, columns=list(GROUPS))


def plot_waterfall(explanation: PriceBreakdown, ax: Any = None, title: str | None = None) -> Any:
    """A waterfall chart from base price to price (matplotlib, imported here only)."""
    import matplotlib.pyplot as plt

    steps = waterfall_steps(explanation)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    names = ["base price", *(_short(label) for label in steps["label"]), "price"]
    ax.bar(0, explanation.base_price, color="0.6")
    for i, step in enumerate(steps.itertuples(), start=1):
        low, high = sorted((step.start, step.end))
        colour = "tab:green" if step.end >= step.start else "tab:red"
        ax.bar(i, high - low, bottom=low, color=colour)
        ax.annotate(
            f"\u00d7{step.factor:.2f}",
            (i, high),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.bar(len(names) - 1, explanation.price, color="tab:blue")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("price (USD)")
    ax.set_title(
        title or f"From base price ${explanation.base_price:,.0f} to ${explanation.price:,.0f}"
    )
    return ax


def _short(label: str) -> str:
    return label.split(" (")[0]
