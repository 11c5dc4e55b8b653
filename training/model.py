"""The price model: a log-linear backbone plus gradient-boosted trees on what it misses.

log(price) = intercept + Σ coef·term(x) + Σ trees(x)

The backbone (a cubic in log carat and one step per grade) carries the smooth, known shape of
diamond prices; the trees (LightGBM, Huber loss) learn the rest from all nine characteristics.
Serving needs only NumPy: the fitted trees are compiled into a `Forest` and stored as JSON.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from itertools import pairwise

import numpy as np

from training.features import FEATURE_GROUP, GROUPS, linear_terms, row_terms
from training.forest import Forest
from training.geometry import FieldProblem
from training.params import ModelParams
from training.record import CATEGORIES, FEATURES, FIELD_BY_NAME
from training.splits import kfold_indices

FORMAT = "diamonds-price-model/1"
MODEL_FILE = "model.json"
BOOSTER_FILE = "lightgbm.txt"
"""LightGBM's own text dump of the trees, for inspection with LightGBM's tools; serving never
reads it."""
INTERVAL_CARAT_EDGES = (0.0, 0.5, 1.0, 1.5, 2.0)
"""Lower edges of the carat bands that each get their own interval width, in a model fitted
now; a loaded model keeps the edges it was saved with."""
_CARAT = FEATURES.index("carat")
MIN_BAND_ROWS = 100
DOMAIN_MARGIN = 0.05
"""How far beyond the training range of a measurement the model still prices (relative)."""
_DERIVED = (
    "_coef",
    "_interval_factors",
    "_interval_factor_rows",
    "_upper_carat_edges",
    "_upper_carat_edge_list",
    "_domain_limits",
    "_domain_bounds",
)
"""The cached forms of fitted values, dropped when the model is fitted again."""


@dataclass(frozen=True)
class PriceBreakdown:
    """price = base_price × Π factors (exactly, up to float rounding)."""

    price: float
    base_price: float
    factors: dict[str, float]
    labels: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{self.labels[g]}: ×{self.factors[g]:.3f}" for g in self.factors]


class PriceModel:
    """Prices a diamond from its characteristics, with a 90% interval and an explanation."""

    def __init__(self, params: ModelParams | None = None) -> None:
        self.params = params or ModelParams()
        self._booster = self._forest = None

    # -- fitting ------------------------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        price: np.ndarray,
        calibration_residuals: np.ndarray | None = None,
        calibration_carat: np.ndarray | None = None,
    ) -> PriceModel:
        """Fit on a feature matrix and prices.

        The interval is split-conformal on log residuals. Give `calibration_residuals` (log
        residuals of models that did not see those stones, e.g. from cross-validation) and, when
        they are not the residuals of the rows of X, the carats of their stones
        (`calibration_carat`); without them they are made here by cross-fitting, which costs
        `calibration_folds` more fits.
        """
        X = np.asarray(X, dtype=float)
        y = np.log(np.asarray(price, dtype=float))
        self._fit_point(X, y)
        if calibration_residuals is None:
            calibration_residuals = self._cross_fit_residuals(X, y)
        self.interval_carat_edges = INTERVAL_CARAT_EDGES
        self.interval_bands = banded_offsets(
            calibration_residuals,
            X[:, _CARAT] if calibration_carat is None else calibration_carat,
            self.params.coverage,
            self.interval_carat_edges,
        )
        self.domain = {
            name: [float(X[:, j].min()), float(X[:, j].max())]
            for j, name in enumerate(FEATURES)
            if name not in CATEGORIES
        }
        for derived in _DERIVED:
            self.__dict__.pop(derived, None)
        return self

    def _fit_point(self, X: np.ndarray, y: np.ndarray) -> None:
        import lightgbm

        terms, term_groups = linear_terms(X)
        design = np.column_stack([np.ones(len(X)), terms])
        penalty = self.params.ridge * np.eye(design.shape[1])
        penalty[0, 0] = 0.0
        solution = np.linalg.solve(design.T @ design + penalty, design.T @ y)
        self.intercept, self.coef = float(solution[0]), solution[1:]
        self.term_groups = term_groups
        self.term_means = terms.mean(axis=0)
        p = self.params
        columns = [FEATURES.index(name) for name in p.tree_features]
        booster = lightgbm.train(
            {
                "objective": "huber",
                "alpha": p.huber_delta,
                "learning_rate": p.learning_rate,
                "num_leaves": p.num_leaves,
                "max_depth": p.max_depth,
                "min_child_samples": p.min_child_samples,
                "bagging_fraction": p.subsample,
                "bagging_freq": 1,
                "feature_fraction": p.colsample_bytree,
                "lambda_l2": p.reg_lambda,
                "seed": p.seed,
                "deterministic": True,
                "num_threads": 2,
                "verbosity": -1,
            },
            lightgbm.Dataset(
                X[:, columns], y - design @ solution, feature_name=list(p.tree_features)
            ),
            num_boost_round=p.n_estimators,
        )
        self._booster, self._tree_columns, self._forest = booster, columns, None

    def _cross_fit_residuals(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        residuals = np.empty(len(y))
        for train, test in kfold_indices(len(y), self.params.calibration_folds, self.params.seed):
            fold = PriceModel(self.params)
            fold._fit_point(X[train], y[train])
            residuals[test] = y[test] - fold.predict_log(X[test])
        return residuals

    # -- pricing ------------------------------------------------------------------------------
    def predict_log(self, X: np.ndarray) -> np.ndarray:
        """The log price of each stone. Every sum is taken term after term, in the terms' and
        the trees' order (not by BLAS or pairwise, whose rounding depends on a row's place in
        the batch): a stone is priced to the last bit alone, among any others, and in plain
        floats by `price_row`."""
        X = np.asarray(X, dtype=float)
        terms, _ = linear_terms(X)
        return self.intercept + (terms * self.coef).cumsum(axis=1)[:, -1] + self._trees(X)

    def price_row(self, x: Sequence[float]) -> tuple[float, float, float]:
        """One stone's (price, low, high) in plain floats, to the last bit what `predict` and
        `interval` give it: the pricing of one stone, the common request, which in NumPy would
        be a hundred calls on one-element arrays. `x` is a row of the feature matrix."""
        backbone = 0.0
        for column, term in row_terms(x):
            backbone += term * self._coef[column]
        price = float(np.exp(self.intercept + backbone + self.forest.predict_row(x)))
        low, high = self._interval_factor_rows[bisect_right(self._upper_carat_edge_list, x[_CARAT])]
        return price, price * low, price * high

    @cached_property
    def _coef(self) -> list[float]:
        return self.coef.tolist()

    @property
    def forest(self) -> Forest:
        """The trees compiled for NumPy (done on first use after fitting: a cross-validation fold
        never needs it)."""
        if self._forest is None:
            self._forest = Forest.from_lightgbm(
                self._booster.dump_model(),
                self._tree_columns,
                [FEATURE_GROUP[name] for name in FEATURES],
            )
        return self._forest

    def _trees(self, X: np.ndarray) -> np.ndarray:
        """The trees' output. In the process that fitted them LightGBM's own predictor is at
        hand and faster on large batches; it computes exactly what the compiled forest does."""
        if self._booster is not None and len(X) > 256:
            return self._booster.predict(X[:, self._tree_columns])
        return self.forest.predict(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The price of each stone (the median of its predicted price distribution)."""
        return np.exp(self.predict_log(X))

    def interval(self, X: np.ndarray, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The calibrated interval around the predicted prices of the stones X."""
        carat = np.asarray(X, dtype=float)[:, _CARAT]
        factors = self._interval_factors[self._upper_carat_edges.searchsorted(carat, side="right")]
        return price * factors[:, 0], price * factors[:, 1]

    @cached_property
    def _upper_carat_edge_list(self) -> list[float]:
        """The carat edges above the first: how many of them a carat reaches is the number of
        its band (a carat below the first edge is in band 0)."""
        return [float(edge) for edge in self.interval_carat_edges[1:]]

    @cached_property
    def _upper_carat_edges(self) -> np.ndarray:
        return np.asarray(self._upper_carat_edge_list)

    @cached_property
    def _interval_factors(self) -> np.ndarray:
        """Per carat band, the interval's low and high as multiples of the price."""
        return np.exp(np.asarray(self.interval_bands, dtype=float))

    @cached_property
    def _interval_factor_rows(self) -> list[list[float]]:
        return self._interval_factors.tolist()

    def log_factors(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        """The log of the base price, and each stone's log factor per characteristic (columns in
        the order of GROUPS): log price = base + Σ log factors, exactly.

        A group's factor is the backbone's terms of that group, taken from their mean, plus the
        trees' exact Shapley value of the group."""
        X = np.asarray(X, dtype=float)
        terms, _ = linear_terms(X)
        term_group = self.term_groups[:, None] == np.arange(len(GROUPS))[None, :]
        phi = ((terms - self.term_means) * self.coef) @ term_group + self.forest.shapley(X)
        base = self.intercept + self.term_means @ self.coef + self.forest.expected_value
        return float(base), phi

    def explanations(self, X: np.ndarray) -> list[PriceBreakdown]:
        """Each stone's price as a base price times one factor per characteristic."""
        X = np.asarray(X, dtype=float)
        return self.explanations_from(X, *self.log_factors(X))

    @staticmethod
    def explanations_from(X: np.ndarray, base: float, phi: np.ndarray) -> list[PriceBreakdown]:
        """The explanations of the stones X given their `log_factors`."""
        base_price = float(np.exp(base))
        prices = np.exp(base + phi.sum(axis=1)).tolist()
        return [
            PriceBreakdown(
                price=price,
                base_price=base_price,
                factors=dict(zip(GROUPS, factors, strict=True)),
                labels=_labels(x),
            )
            for price, factors, x in zip(prices, np.exp(phi).tolist(), X.tolist(), strict=True)
        ]

    def explain(self, x: np.ndarray) -> PriceBreakdown:
        """One stone's price as a base price times one factor per characteristic."""
        return self.explanations(np.reshape(x, (1, -1)))[0]

    def out_of_domain(self, X: np.ndarray) -> list[list[FieldProblem]]:
        """For each stone, the measurements too far outside what the model was trained on."""
        names, indices, lowest, highest = self._domain_limits
        columns = np.asarray(X, dtype=float)[:, indices]
        outside = _outside(columns, lowest, highest)
        problems: list[list[FieldProblem]] = [[] for _ in range(len(X))]
        for i, k in zip(*np.nonzero(outside), strict=True):
            name = names[k]
            low, high = self.domain[name]
            unit = FIELD_BY_NAME[name].unit
            problems[i].append(
                (
                    name,
                    f"{columns[i, k]:g} {unit} is outside the range the model was trained on "
                    f"({low:g}–{high:g} {unit})",
                )
            )
        return problems

    def within_domain(self, x: Sequence[float]) -> bool:
        """Whether one stone (a row of the feature matrix) has no problem `out_of_domain`."""
        return not any(_outside(x[j], low, high) for j, low, high in self._domain_bounds)

    @cached_property
    def _domain_bounds(self) -> list[tuple[int, float, float]]:
        """`_domain_limits` as (column, lowest, highest) floats."""
        _, indices, lowest, highest = self._domain_limits
        return list(zip(indices.tolist(), lowest.tolist(), highest.tolist(), strict=True))

    @cached_property
    def _domain_limits(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The measurements of `domain`, their columns of X, and the lowest and highest values
        priced, margins included."""
        names = list(self.domain)
        low, high = np.asarray([self.domain[name] for name in names]).T
        indices = np.array([FEATURES.index(name) for name in names])
        return names, indices, low * (1 - DOMAIN_MARGIN), high * (1 + DOMAIN_MARGIN)

    # -- files --------------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        """The model as files: never pickles, nothing that runs code when loaded."""
        document = {
            "format": FORMAT,
            "features": list(FEATURES),
            "groups": list(GROUPS),
            "params": asdict(self.params),
            "linear": {
                "intercept": self.intercept,
                "coef": self.coef.tolist(),
                "term_groups": self.term_groups.tolist(),
                "term_means": self.term_means.tolist(),
            },
            "forest": self.forest.to_dict(),
            "interval": {
                "coverage": self.params.coverage,
                "carat_edges": list(self.interval_carat_edges),
                "log_offsets": self.interval_bands,
            },
            "domain": self.domain,
        }
        files = {MODEL_FILE: json.dumps(document, separators=(",", ":")).encode()}
        if self._booster is not None:
            files[BOOSTER_FILE] = self._booster.model_to_string().encode()
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> PriceModel:
        document = json.loads(files[MODEL_FILE])
        if document.get("format") != FORMAT or document.get("features") != list(FEATURES):
            raise ValueError(f"{MODEL_FILE} is not a {FORMAT} model for features {FEATURES}")
        model = cls(ModelParams(**document["params"]))
        linear = document["linear"]
        model.intercept = float(linear["intercept"])
        model.coef = np.asarray(linear["coef"], dtype=float)
        model.term_groups = np.asarray(linear["term_groups"], dtype=np.int64)
        model.term_means = np.asarray(linear["term_means"], dtype=float)
        model._booster, model._forest = None, Forest.from_dict(document["forest"])
        interval = document["interval"]
        model.interval_carat_edges = _carat_edges(interval["carat_edges"], interval["log_offsets"])
        model.interval_bands = [[float(a), float(b)] for a, b in interval["log_offsets"]]
        model.domain = {k: [float(a), float(b)] for k, (a, b) in document["domain"].items()}
        return model


def _outside(
    value: float | np.ndarray, lowest: float | np.ndarray, highest: float | np.ndarray
) -> bool | np.ndarray:
    """Outside [lowest, highest]: one rule for a stone's floats and a batch's arrays."""
    return (value < lowest) | (value > highest)


def _carat_edges(edges: list, log_offsets: list) -> tuple[float, ...]:
    """The stored carat edges of a model's interval, checked against its offsets."""
    if not edges:
        raise ValueError(f"{MODEL_FILE}: the interval's carat edges make no carat band")
    if not all(isinstance(e, int | float) and math.isfinite(e) for e in edges):
        raise ValueError(f"{MODEL_FILE}: the interval's carat edges {edges} are not numbers")
    if any(low >= high for low, high in pairwise(edges)):
        raise ValueError(f"{MODEL_FILE}: the interval's carat edges {edges} are not increasing")
    if len(edges) != len(log_offsets):
        raise ValueError(
            f"{MODEL_FILE}: the interval's carat edges make {len(edges)} carat bands but it "
            f"has offsets for {len(log_offsets)}"
        )
    return tuple(float(edge) for edge in edges)


def banded_offsets(
    residuals: np.ndarray,
    carat: np.ndarray,
    coverage: float,
    carat_edges: Sequence[float],
) -> list[list[float]]:
    """Conformal offsets per carat band (Mondrian conformal; a band from each of `carat_edges`
    to the next), so that the interval holds its coverage for big stones too, whose prices
    scatter more; a band with fewer than MIN_BAND_ROWS calibration stones uses the offsets of
    all stones."""
    overall = conformal_offsets(residuals, coverage)
    edges = [*carat_edges, np.inf]
    bands = []
    for low, high in pairwise(edges):
        inside = (carat >= low) & (carat < high)
        enough = inside.sum() >= MIN_BAND_ROWS
        bands.append(conformal_offsets(residuals[inside], coverage) if enough else overall)
    return bands


def conformal_offsets(residuals: np.ndarray, coverage: float) -> list[float]:
    """Split-conformal bounds on log residuals, with the finite-sample correction."""
    r = np.sort(np.asarray(residuals, dtype=float))
    n = len(r)
    tail = (1 - coverage) / 2
    k_low = max(int(np.floor((n + 1) * tail)) - 1, 0)
    k_high = min(int(np.ceil((n + 1) * (1 - tail))) - 1, n - 1)
    return [float(r[k_low]), float(r[k_high])]


def _labels(x: list[float]) -> dict[str, str]:
    value = dict(zip(FEATURES, x, strict=True))
    grade = {name: CATEGORIES[name][int(value[name])] for name in CATEGORIES}
    return {
        "carat": f"carat {value['carat']:g} ct",
        "cut": f"cut {grade['cut']}",
        "color": f"color {grade['color']}",
        "clarity": f"clarity {grade['clarity']}",
        "proportions": (
            f"proportions (depth {value['depth']:g}%, table {value['table']:g}%, "
            f"{value['x']:g} × {value['y']:g} × {value['z']:g} mm)"
        ),
    }
