# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Diamond prices: the data, the model, and what more data would buy
#
# This notebook reads one data file of appraised diamonds, examines its faults, shows how the
# characteristics of a stone drive its price, compares candidate models by cross-validation,
# evaluates the chosen one, explains individual prices, and estimates what more appraised stones
# would be worth. Every number in the text is computed by the cells; the model and validation
# code lives in the `training` package, the analysis helpers beside this notebook (`analysis.py`).
#
# The file is named by the environment variable `DIAMONDS_DATA` (a path relative to the
# repository root, or absolute); without it, the public diamonds data set embedded in the
# project is used.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

import analysis
from training.comparison import compare, ours
from training.datasets import public_diamonds_path
from training.evaluation import CARAT_BANDS, by_carat_band, evaluate_holdout
from training.features import GROUPS, feature_matrix
from training.model import ModelParams, PriceModel
from training.record import (
    CARAT_PER_MM3,
    CATEGORIES,
    COLUMNS,
    FEATURES,
    WEIGHT_RATIO_RANGE,
)
from training.splits import holdout_split
from training.validation import read_records

plt.rcParams.update(
    {"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3, "axes.formatter.min_exponent": 5}
)
pd.set_option("display.width", 140)
pd.set_option("display.max_colwidth", 110)
pd.set_option("display.precision", 3)


def say(text: str) -> None:
    display(Markdown(text))


ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "pyproject.toml").is_file())
setting = os.environ.get("DIAMONDS_DATA")
DATA = ROOT / setting if setting else public_diamonds_path()
PUBLIC = public_diamonds_path()
IS_PUBLIC = DATA.resolve() == PUBLIC.resolve()
MODEL_STONES = 5_000  # the model sections use at most this many stones, to keep the run short
say(f"Data file: **{DATA.name}**" + (" (the embedded public data set)" if IS_PUBLIC else ""))

# %% [markdown]
# ## 1. The data and its faults
#
# `training.validation.read_records` reads the file row by row. A row is either accepted, or
# quarantined with its reason: values that are missing, not numbers or out of range; exact
# duplicates; and stones whose own measurements contradict each other (dimensions that describe
# a stone a third lighter or heavier than its stated carat, or a stated depth % that x, y and z
# disagree with). Nothing is silently dropped.

# %%
result = read_records(DATA.read_bytes())
report = result.report()
rejected = result.rejected.copy()
rejected["kind"] = [analysis.fault_kind(r) for r in rejected["reason"]]
kinds = rejected["kind"].value_counts().reindex(analysis.FAULT_KINDS).dropna().astype(int)
say(
    f"**{report['rows_read']:,} rows read: {report['accepted']:,} accepted, "
    f"{report['rejected']:,} quarantined** "
    f"({report['rejected'] / report['rows_read']:.2%} of the file)."
)
display(kinds.rename("rows").to_frame())

# %%
SHOWN = 40
display(rejected[["line", *COLUMNS, "kind", "reason"]].head(SHOWN))
if len(rejected) > SHOWN:
    say(f"(the first {SHOWN} of {len(rejected):,} quarantined rows)")

# %%
raw = result.raw
numbers = raw[["carat", "price", "x", "y", "z", "depth"]].apply(pd.to_numeric, errors="coerce")
negative_price = rejected[rejected["kind"] == analysis.FAULT_KINDS[0]]
price_only = negative_price["reason"].str.count(";").eq(0).sum()
price_values = sorted(set(negative_price["price"].astype(str)))
duplicates = rejected[rejected["kind"] == analysis.FAULT_KINDS[2]]
contradictions = rejected[rejected["kind"] == analysis.FAULT_KINDS[3]]
z_equals_carat = int(
    (pd.to_numeric(contradictions["z"]) == pd.to_numeric(contradictions["carat"])).sum()
)
lines = negative_price["line"]
zero_dims = rejected[rejected["kind"] == analysis.FAULT_KINDS[1]]
first_seen = duplicates["reason"].str.extract(r"duplicate of line (\d+)")[0].astype(float)
gap = duplicates["line"] - first_seen
findings = []
if len(negative_price):
    findings.append(
        f"- **Missing prices.** {len(negative_price)} rows carry a price of "
        f"{', '.join(price_values)}; for {price_only} of them it is the only fault: complete, "
        "well-measured stones without a price, a placeholder typed where the price belongs. "
        f"They are scattered through the file (lines {lines.min()}–{lines.max()}), not one bad "
        "batch."
    )
if len(zero_dims):
    findings.append(
        f"- **Zero dimensions.** {len(zero_dims)} row(s) with a length, width or depth of 0 mm: "
        "a measurement not taken, recorded as 0 instead of left empty."
    )
if len(duplicates):
    findings.append(
        f"- **Duplicates.** {len(duplicates)} row(s) repeat an earlier row exactly, a median of "
        f"{gap.median():,.0f} lines after it: the same stone entered twice."
    )
if len(contradictions):
    findings.append(
        f"- **Contradicting measurements.** {len(contradictions)} stone(s) whose dimensions "
        f"disagree with their carat or their stated depth; in {z_equals_carat} of them z equals "
        "the carat: a value typed into the wrong column."
    )
say(
    "\n".join(findings) + "\n\nThese are the faults of a file kept by hand with no checks at "
    "entry: placeholders for unknown values, stones entered twice, typing slips. The validator "
    "catches each kind, and every new file goes through the same checks."
)

# %% [markdown]
# The weight rule in a picture: a round brilliant weighs about `CARAT_PER_MM3` carat per mm³ of
# its x·y·z box. Stones far from the diagonal have a slip in their carat or their dimensions.

# %%
positive = (numbers[["x", "y", "z"]] > 0).all(axis=1) & numbers["carat"].gt(0)
implied = CARAT_PER_MM3 * numbers["x"] * numbers["y"] * numbers["z"]
is_rejected = raw["line"].isin(rejected["line"])
fig, ax = plt.subplots(figsize=(7, 5))
ok = positive & ~is_rejected
ax.scatter(implied[ok], numbers["carat"][ok], s=3, alpha=0.3, color="0.4", label="accepted")
bad = positive & is_rejected
ax.scatter(implied[bad], numbers["carat"][bad], s=25, color="tab:red", label="quarantined")
span = np.array([0.1, 30])
for ratio in WEIGHT_RATIO_RANGE:
    ax.plot(span, span * ratio, "--", color="tab:orange", lw=1)
ax.plot(span, span, color="k", lw=0.8, label="carat = implied weight")
ax.set(
    xscale="log",
    yscale="log",
    xlim=(0.1, 30),
    ylim=(0.1, 6),
    xlabel="weight implied by x·y·z (ct)",
    ylabel="stated carat (ct)",
    title=f"{DATA.name}: stated carat against the weight its dimensions imply",
)
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# ### The same faults in the wider public data
# The customer's stones come from the classic public diamonds data set. Validated the same way,
# it shows the same kinds of faults, and larger typing slips.

# %%
public = result if IS_PUBLIC else read_records(PUBLIC.read_bytes())
public_rejected = public.rejected.copy()
public_rejected["kind"] = [analysis.fault_kind(r) for r in public_rejected["reason"]]
public_kinds = public_rejected["kind"].value_counts().reindex(analysis.FAULT_KINDS).dropna()
say(
    f"**{PUBLIC.name}** (public): {public.rows_read:,} rows, {len(public_rejected):,} "
    f"quarantined: "
    + ", ".join(f"{int(v)} {k}" for k, v in public_kinds.items())
    + ". The largest slips between the stated carat and the dimensions:"
)
geometry = public_rejected[public_rejected["kind"] == analysis.FAULT_KINDS[3]].copy()
dims = geometry[["carat", "x", "y", "z"]].apply(pd.to_numeric)
geometry["weight ratio"] = dims["carat"] / (CARAT_PER_MM3 * dims["x"] * dims["y"] * dims["z"])
worst_slips = geometry.loc[np.abs(np.log(geometry["weight ratio"])).nlargest(6).index]
display(worst_slips[["line", *COLUMNS, "weight ratio"]].round(3))

# %% [markdown]
# ## 2. How the characteristics drive the price
# From here on only the accepted stones are used.

# %%
records = result.accepted
if len(records) > MODEL_STONES:
    keep = np.sort(np.random.default_rng(0).choice(len(records), MODEL_STONES, replace=False))
    records = records.iloc[keep].reset_index(drop=True)
    say(f"The model sections use a random {MODEL_STONES:,} of the {len(result.accepted):,} stones.")
X = feature_matrix(records)
price = records["price"].to_numpy(float)
carat = records["carat"].to_numpy(float)
slope, intercept = np.polyfit(np.log(carat), np.log(price), 1)
say(
    f"{len(price):,} stones, {carat.min():g}–{carat.max():g} ct, priced "
    f"${price.min():,.0f}–${price.max():,.0f} (median ${np.median(price):,.0f}). On log-log axes "
    f"price is close to a straight line in carat: price ∝ carat^{slope:.2f}, so a stone twice as "
    f"heavy costs about {2**slope:.1f} times as much."
)

# %%
fig, ax = plt.subplots(figsize=(7, 5))
ax.scatter(carat, price, s=3, alpha=0.25, color="tab:blue", label="stones")
grid = np.geomspace(carat.min(), carat.max(), 50)
ax.plot(grid, np.exp(intercept) * grid**slope, color="k", label=f"price ∝ carat^{slope:.2f}")
ax.set(
    xscale="log",
    yscale="log",
    xlabel="carat (ct, log scale)",
    ylabel="price (USD, log scale)",
    title="Price against carat",
)
ax.legend()
plt.show()

# %% [markdown]
# ### Cut, color and clarity at equal carat
# Averages by grade mislead: the worse grades come in bigger stones, and size dominates price.
# `analysis.grade_effects` sets the raw average price of each grade (relative to the worst grade)
# next to a carat-controlled comparison: a least-squares fit of log price on a cubic in log carat
# plus one step per grade, so that each grade is compared with the worst at the same weight.

# %%
effects = {
    name: analysis.grade_effects(carat, records[name], price, CATEGORIES[name])
    for name in CATEGORIES
}
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
for ax, (name, table) in zip(axes, effects.items(), strict=True):
    at = np.arange(len(table))
    ax.bar(at - 0.2, table["raw_ratio"], 0.4, label="raw average price")
    ax.bar(at + 0.2, table["at_equal_carat"], 0.4, label="at equal carat")
    ax.axhline(1, color="k", lw=0.8)
    ax.set_xticks(at, table.index)
    ax.set(
        yscale="log",
        xlabel=f"{name} (worst → best)",
        ylabel=f"price relative to {table.index[0]} (×, log scale)",
        title=f"{name.capitalize()}: raw average vs at equal carat",
    )
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()
sentences = []
for name, table in effects.items():
    worst, best = table.index[0], table.index[-1]
    sentences.append(
        f"- **{name}**: {best} stones average ${table.loc[best, 'mean_price']:,.0f} against "
        f"${table.loc[worst, 'mean_price']:,.0f} for {worst} "
        f"(×{table.loc[best, 'raw_ratio']:.2f}), "
        f"but {worst} stones average {table.loc[worst, 'mean_carat']:.2f} ct against "
        f"{table.loc[best, 'mean_carat']:.2f} ct. At equal carat, {best} stones are worth "
        f"×{table.loc[best, 'at_equal_carat']:.2f} what {worst} stones are."
    )
say("\n".join(sentences))

# %%
display(pd.concat(effects, names=["characteristic"]).round(3))

# %% [markdown]
# The same comparison without any fitted curve: the median price of each grade within narrow
# carat bands. At every weight the better grades sit higher.

# %%
edges = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 1.75, 2.0, 2.5, 3.0, 5.5]
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
for ax, name in zip(axes, CATEGORIES, strict=True):
    medians = analysis.binned_medians(carat, records[name], price, edges)
    colours = plt.cm.viridis(np.linspace(0, 0.95, len(CATEGORIES[name])))
    for grade, colour in zip(CATEGORIES[name], colours, strict=True):
        line = medians[medians["grade"] == grade]
        ax.plot(line["carat"], line["price"], "o-", ms=3, color=colour, label=grade)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="carat (ct, log scale)",
        ylabel="median price (USD, log scale)",
        title=f"Median price by carat band and {name}",
    )
    ax.legend(fontsize=7, title=name, title_fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Depth, table and dimensions: what do they add beyond carat?
# The dimensions x, y, z restate the carat (weight is density × volume). Depth and table are
# proportions of the cut; they could matter at equal carat. The plots show each stone's price
# relative to a typical stone of its carat against depth and table.

# %%
adjusted = analysis.carat_adjusted(carat, price)
volume_r = np.corrcoef(np.log(carat), np.log(X[:, 6] * X[:, 7] * X[:, 8]))[0, 1]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
correlations = {}
for ax, name in zip(axes, ("depth", "table"), strict=True):
    values = records[name].to_numpy(float)
    correlations[name] = np.corrcoef(values, adjusted)[0, 1]
    ax.scatter(values, np.exp(adjusted), s=3, alpha=0.25)
    bands = pd.qcut(values, 12, duplicates="drop")
    medians = pd.Series(np.exp(adjusted)).groupby(bands, observed=True).median()
    ax.plot([b.mid for b in medians.index], medians.to_numpy(), "o-", color="k", label="median")
    ax.axhline(1, color="tab:red", lw=0.8)
    ax.set(
        yscale="log",
        xlabel=f"{name} (%)",
        ylabel="price relative to a typical stone of its carat (×)",
        title=f"Price at equal carat against {name}",
    )
    ax.legend()
plt.tight_layout()
plt.show()
say(
    f"log carat and log(x·y·z) correlate at r = {volume_r:.4f}: the dimensions carry the weight "
    f"again. The price at equal carat correlates with depth at r = {correlations['depth']:+.3f} "
    f"and with table at r = {correlations['table']:+.3f}."
)

# %% [markdown]
# The model's trees see carat, the three grades, x and y; depth, table and z are left out. The
# cross-validated comparison behind that choice, on the same 5 folds
# (`training.comparison.compare`):

# %%
all_nine = ModelParams(tree_features=FEATURES)
tree_choice = compare(
    X,
    price,
    {"trees see 6 (ours)": ours(), "trees see all nine": ours(all_nine)},
)
mape_six, mape_nine = (s.metrics["mape"] for s in tree_choice)
say(
    f"5-fold MAPE with the trees seeing all nine characteristics: **{mape_nine:.2f}%**; without "
    f"depth, table and z: **{mape_six:.2f}%** ({mape_nine - mape_six:+.2f} points for adding "
    "them)."
)

# %% [markdown]
# ## 3. Model development
# The candidates of the project's benchmark (`training.comparison.CANDIDATES`, the same code as
# `benchmarks/accuracy.py`), cross-validated on the same 5 folds:
# - the usual first attempt: ordinary least squares of log price on the nine characteristics,
#   grades as ordinal codes;
# - the log-linear backbone: a cubic in log carat and one step per grade;
# - gradient boosting (LightGBM) with its defaults on log price;
# - ours: the backbone plus tuned boosting with a Huber loss on what the backbone misses.

# %%
benchmark = compare(X, price)
scores = pd.DataFrame(
    [
        {
            "model": s.name,
            "MAPE %": s.metrics["mape"],
            "MAE $": s.metrics["mae"],
            "RMSE $": s.metrics["rmse"],
            "R²": s.metrics["r2"],
            "fit s": s.fit_seconds,
        }
        for s in benchmark
    ]
).set_index("model")
display(scores.round({"MAPE %": 2, "MAE $": 0, "RMSE $": 0, "R²": 4, "fit s": 2}))
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.barh(scores.index[::-1], scores["MAPE %"][::-1], color="tab:blue")
for i, value in enumerate(scores["MAPE %"][::-1]):
    ax.annotate(f"{value:.2f}%", (value, i), xytext=(3, 0), textcoords="offset points", va="center")
ax.set(xlabel="mean absolute percentage error (%)", title="5-fold cross-validated error")
plt.show()
ours_score = next(s for s in benchmark if s.name.startswith("ours"))
first = benchmark[0]
say(
    f"Ours prices a stone to within **{ours_score.metrics['mape']:.2f}%** on average, against "
    f"{first.metrics['mape']:.2f}% for the usual first attempt: "
    f"{1 - ours_score.metrics['mape'] / first.metrics['mape']:.0%} less error."
)

# %% [markdown]
# ### The choices that mattered, each with its number
# Each choice is measured by switching it off, everything else equal, under the same folds:
# - **log target**: default boosting on log price vs the same on the price itself;
# - **features of the backbone**: a cubic in log carat and a step per grade vs the first
#   attempt's straight line in the raw codes;
# - **backbone + boosting**: the tuned trees with and without the backbone under them (the
#   backbone switched off by an enormous ridge penalty, squared loss for both);
# - **Huber loss**: ours vs the same with squared loss (an enormous Huber δ);
# - **trees' features**: the depth/table/z comparison above.

# %%
squared = ModelParams(huber_delta=1e6)
trees_alone = ModelParams(huber_delta=1e6, ridge=1e12)
ablation = {
    s.name: s.metrics["mape"]
    for s in compare(
        X,
        price,
        {
            "boosting on raw price": analysis.untuned_boosting_raw_price,
            "backbone + trees, squared loss": ours(squared),
            "trees alone, squared loss": ours(trees_alone),
        },
    )
}
named = {s.name: s.metrics["mape"] for s in benchmark}
boosting_log = next(v for k, v in named.items() if k.startswith("gradient boosting"))
log_linear = next(v for k, v in named.items() if k.startswith("log-linear"))
choices = pd.DataFrame(
    [
        (
            "log target",
            "boosting on price",
            ablation["boosting on raw price"],
            "on log price",
            boosting_log,
        ),
        (
            "backbone terms",
            "first attempt (raw codes)",
            first.metrics["mape"],
            "log-linear backbone",
            log_linear,
        ),
        (
            "backbone under the trees",
            "trees alone",
            ablation["trees alone, squared loss"],
            "backbone + trees",
            ablation["backbone + trees, squared loss"],
        ),
        (
            "Huber loss",
            "squared loss",
            ablation["backbone + trees, squared loss"],
            "Huber loss (ours)",
            ours_score.metrics["mape"],
        ),
        ("trees' features", "all nine", mape_nine, "without depth, table, z (ours)", mape_six),
    ],
    columns=["choice", "without", "MAPE % without", "with", "MAPE % with"],
).set_index("choice")
choices["gain (points)"] = choices["MAPE % without"] - choices["MAPE % with"]
display(choices.round(2))

# %% [markdown]
# ## 4. Evaluation
# Out-of-fold predictions of our model (each stone priced by a model that never saw it), from the
# comparison above.

# %%
predicted = ours_score.predicted
bands = pd.DataFrame(by_carat_band(carat, price, predicted)).set_index("band")
display(bands[["n", "mape", "mae", "rmse"]].round(2))
fig, axes = plt.subplots(1, 4, figsize=(18, 4), gridspec_kw={"width_ratios": [5, 5, 7, 8]})
axes[0].bar(bands.index, bands["mape"], color="tab:blue")
axes[0].set(xlabel="carat band", ylabel="MAPE (%)", title="Error by carat band")
axes[0].tick_params(axis="x", labelrotation=30)
by_grade = {}
for ax, name in zip(axes[1:], CATEGORIES, strict=True):
    by_grade[name] = analysis.errors_by(records[name], price, predicted, CATEGORIES[name])
    ax.bar(by_grade[name].index, by_grade[name]["mape"], color="tab:purple")
    ax.set(xlabel=name, ylabel="MAPE (%)", title=f"Error by {name}")
    ax.tick_params(axis="x", labelrotation=30)
plt.tight_layout()
plt.show()
hardest = bands["mape"].idxmax()
say(
    f"The error is largest for {hardest} stones ({bands.loc[hardest, 'mape']:.2f}%, "
    f"{int(bands.loc[hardest, 'n'])} stones) and smallest for {bands['mape'].idxmin()} "
    f"({bands['mape'].min():.2f}%). In dollars the big stones dominate: MAE "
    f"${bands['mae'].iloc[-1]:,.0f} for {bands.index[-1]} against ${bands['mae'].iloc[0]:,.0f} "
    f"for {bands.index[0]}. By grade, the error is largest for "
    + ", ".join(
        f"{name} {table['mape'].idxmax()} ({table['mape'].max():.1f}%, "
        f"{int(table.loc[table['mape'].idxmax(), 'n'])} stones)"
        for name, table in by_grade.items()
    )
    + "."
)

# %% [markdown]
# ### The worst predictions
# The ten stones whose out-of-fold price is furthest from the appraisal, in ratio terms
# (`ratio` = predicted / appraised):

# %%
worst = analysis.worst_predictions(records, price, predicted, k=10)
display(worst)
typical = records["carat"].median()
say(
    f"Ratios from ×{worst['ratio'].min():.2f} to ×{worst['ratio'].max():.2f}. "
    f"{(worst['clarity'].astype(str).isin(['I1', 'SI2'])).sum()} of the ten have the lowest "
    f"clarities (I1, SI2) against {records['clarity'].astype(str).isin(['I1', 'SI2']).mean():.0%} "
    f"of all stones; their median weight is {worst['carat'].median():.2f} ct against "
    f"{typical:.2f} ct overall. Each one passed validation: its measurements agree with each "
    "other, so these are either unusual stones or appraisals the characteristics do not explain."
)

# %% [markdown]
# ### The 90% price interval
# A model fitted on 80% of the stones (its interval calibrated by split-conformal on
# cross-fitted residuals, separately for each carat band, because the prices of big stones
# scatter more), scored on the 20% it never saw (`training.splits.holdout_split`,
# `training.evaluation.evaluate_holdout`). The training job holds out the same share, chosen by
# each stone's fingerprint (`training.sampling`).

# %%
train, test = holdout_split(len(price), 0.2, 0)
holdout_model = PriceModel().fit(X[train], price[train])
held = evaluate_holdout(holdout_model, X[test], price[test])
test_predicted = holdout_model.predict(X[test])
low, high = holdout_model.interval(X[test], test_predicted)
inside = (price[test] >= low) & (price[test] <= high)
widths = [np.exp(b) - np.exp(a) for a, b in holdout_model.interval_bands]
band_labels = [f"{lo:g}–{hi:g} ct" if np.isfinite(hi) else f"≥ {lo:g} ct" for lo, hi in CARAT_BANDS]
band_edges = [lo for lo, _ in CARAT_BANDS] + [np.inf]
band_of = pd.cut(carat[test], band_edges, right=False, labels=band_labels)
coverage_by_band = pd.Series(inside).groupby(band_of, observed=True).agg(["mean", "size"])
coverage_by_band.columns = ["coverage", "stones"]
coverage_by_band.index = coverage_by_band.index.astype(str)
display((coverage_by_band.assign(coverage=coverage_by_band["coverage"] * 100)).round(1))
say(
    f"On {held['n']:,} held-out stones: MAPE {held['mape']:.2f}%, the 90% interval holds the "
    f"appraised price for **{held['coverage']:.1%}** of them; its median width is "
    f"**{held['median_relative_width']:.1f}%** of the price. Each carat band gets its own width, "
    f"from {min(widths):.0%} to {max(widths):.0%} of the price, so that coverage holds across "
    f"weights: from {coverage_by_band['coverage'].min():.0%} "
    f"({coverage_by_band['coverage'].idxmin()}) to {coverage_by_band['coverage'].max():.0%} "
    f"({coverage_by_band['coverage'].idxmax()}) on these held-out stones."
)

# %%
rng = np.random.default_rng(1)
sample = np.sort(rng.choice(len(test), min(150, len(test)), replace=False))
order = sample[np.argsort(test_predicted[sample])]
fig, ax = plt.subplots(figsize=(10, 4.5))
at = np.arange(len(order))
ax.vlines(at, low[order], high[order], color="0.7", label="90% interval")
ax.scatter(at, test_predicted[order], s=8, color="tab:blue", label="predicted")
ax.scatter(
    at[~inside[order]],
    price[test][order][~inside[order]],
    s=14,
    color="tab:red",
    label="appraised, outside",
)
ax.scatter(
    at[inside[order]], price[test][order][inside[order]], s=6, color="k", label="appraised, inside"
)
ax.set(
    yscale="log",
    xlabel=f"{len(order)} held-out stones, sorted by predicted price",
    ylabel="price (USD, log scale)",
    title="Held-out stones: prediction, 90% interval and appraised price",
)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### Residuals
# Log residuals (log appraised − log predicted, ≈ the relative error) of the out-of-fold
# predictions: they should show no trend against the predicted price or the carat.

# %%
residual = np.log(price / predicted)
fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
axes[0].scatter(predicted, residual, s=3, alpha=0.3)
axes[0].set(
    xscale="log",
    xlabel="predicted price (USD, log scale)",
    ylabel="log residual",
    title="Residual against predicted price",
)
axes[1].scatter(carat, residual, s=3, alpha=0.3, color="tab:green")
axes[1].set(
    xscale="log",
    xlabel="carat (ct, log scale)",
    ylabel="log residual",
    title="Residual against carat",
)
for ax in axes[:2]:
    ax.axhline(0, color="k", lw=0.8)
axes[2].hist(residual, bins=80, color="tab:gray")
axes[2].set(xlabel="log residual", ylabel="stones", title="Distribution of log residuals")
plt.tight_layout()
plt.show()
say(
    f"Residual standard deviation {residual.std():.3f} (log units); "
    f"{np.mean(np.abs(residual) > 0.25):.1%} of the stones are off by more than 25% "
    f"(|log residual| > 0.25)."
)

# %% [markdown]
# ## 5. The why behind a price
# The model fitted on all the stones (its interval calibrated on the out-of-fold residuals
# above). `PriceModel.explain` writes a price as a base price (a typical stone) times one factor
# per characteristic: carat, cut, color, clarity and the proportions (depth, table, x, y, z).
# The factors multiply back to the price exactly.

# %%
model = PriceModel().fit(X, price, calibration_residuals=residual)
picked = [int(np.argmin(np.abs(carat - np.quantile(carat, q)))) for q in (0.1, 0.5, 0.97)]
fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
texts = []
for ax, i in zip(axes, picked, strict=True):
    explanation = model.explain(X[i])
    analysis.plot_waterfall(
        explanation,
        ax=ax,
        title=f"{explanation.labels['carat']}, {records['cut'].iloc[i]}, "
        f"{records['color'].iloc[i]}, {records['clarity'].iloc[i]}: ${explanation.price:,.0f}",
    )
    lo, hi = model.interval(X[i : i + 1], np.array([explanation.price]))
    texts.append(
        f"- **line {records['line'].iloc[i]}**: base ${explanation.base_price:,.0f} → "
        + " → ".join(explanation.lines())
        + f" = **${explanation.price:,.0f}** (90% interval ${lo[0]:,.0f}–${hi[0]:,.0f}; "
        f"appraised ${price[i]:,.0f})"
    )
plt.tight_layout()
plt.show()
say("\n".join(texts))

# %% [markdown]
# ### The global picture
# The factors of a sample of stones: how far each characteristic moves prices, and in which
# direction.

# %%
EXPLAINED = 1_000
chosen = np.sort(
    np.random.default_rng(2).choice(len(price), min(EXPLAINED, len(price)), replace=False)
)
factors = analysis.log_factors(model, X[chosen])
spread = np.exp(factors.abs().median()).sort_values(ascending=False)
fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), gridspec_kw={"width_ratios": [3, 4]})
axes[0].boxplot([factors[g] for g in GROUPS], showfliers=False)
axes[0].set_xticks(range(1, len(GROUPS) + 1), GROUPS)
axes[0].axhline(0, color="k", lw=0.8)
axes[0].set(
    xlabel="characteristic",
    ylabel="log factor (0 = no effect; +0.69 = ×2)",
    title=f"Distribution of log-factors over {len(chosen):,} stones",
)
axes[1].scatter(carat[chosen], np.exp(factors["carat"]), s=4, alpha=0.5)
axes[1].set(
    xscale="log",
    yscale="log",
    xlabel="carat (ct, log scale)",
    ylabel="carat factor (×, log scale)",
    title="Carat factor against carat",
)
plt.tight_layout()
plt.show()

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
directions = {}
for ax, name in zip(axes, CATEGORIES, strict=True):
    grade = records[name].iloc[chosen].astype(str).to_numpy()
    medians = np.exp(factors[name]).groupby(grade).median().reindex(CATEGORIES[name])
    directions[name] = medians
    ax.bar(medians.index, medians.to_numpy() - 1, bottom=1, color="tab:olive")
    ax.axhline(1, color="k", lw=0.8)
    ax.set(
        xlabel=f"{name} (worst → best)",
        ylabel=f"median {name} factor (×)",
        title=f"{name.capitalize()} factor by grade",
    )
plt.tight_layout()
plt.show()
say(
    "Typical size of each factor (median of |log factor|, as a multiplier): "
    + ", ".join(f"{g} ×{v:.2f}" for g, v in spread.items())
    + ". "
    + " ".join(
        f"The {name} factor runs from ×{d.iloc[0]:.2f} ({d.index[0]}) to ×{d.iloc[-1]:.2f} "
        f"({d.index[-1]})."
        for name, d in ((n, m.dropna()) for n, m in directions.items())
    )
)

# %% [markdown]
# ## 6. Is more data worth it?
# A learning curve: the model trained on growing subsets of the stones and always scored on the
# same held-out stones (3 folds; `analysis.learning_curve`). Two curves are fitted to it and
# extrapolated to the collection the new appraiser's work would build:
# - a power law with a floor, error ≈ c + a·n^(−b): the floor c is the error that no amount of
#   data removes (the appraisals' own noise, what the characteristics cannot tell); this is the
#   estimate;
# - a pure power law, error ≈ a·n^(−b), which never levels off: the most one could hope for.

# %%
largest = len(price) - int(np.ceil(len(price) / 3))
sizes = np.unique(np.geomspace(250, largest, 6).round().astype(int))
curve = analysis.learning_curve(X, price, ours(), sizes, folds=3, repeats=1, seed=0)
mean_curve = curve.groupby("n_train")["mape"].agg(["mean", "std", "size"])
n_measured, mape_measured = mean_curve.index.to_numpy(), mean_curve["mean"].to_numpy()
with_floor = analysis.fit_power_law(n_measured, mape_measured, floor=True)
pure = analysis.fit_power_law(n_measured, mape_measured)
now = len(price)
targets = {"all stones now": now, "×2": 2 * now, "×4": 4 * now}
expected = {k: float(analysis.power_law(n, *with_floor)) for k, n in targets.items()}
hoped = {k: float(analysis.power_law(n, *pure)) for k, n in targets.items()}
cv_n = len(price) - len(price) // 5
display(
    mean_curve.rename(
        columns={"mean": "MAPE % (mean)", "std": "MAPE % (sd)", "size": "runs"}
    ).round(2)
)

fig, ax = plt.subplots(figsize=(9, 5.5))
ax.errorbar(
    n_measured,
    mape_measured,
    yerr=mean_curve["std"],
    fmt="o",
    label="measured (mean ± sd over 3 folds)",
)
ax.plot(cv_n, ours_score.metrics["mape"], "D", color="tab:green", label="5-fold CV of section 3")
grid = np.geomspace(sizes.min(), 4.2 * now, 100)
a, b, c = with_floor
ax.plot(
    grid,
    analysis.power_law(grid, *with_floor),
    "-",
    color="tab:red",
    label=f"{c:.2f} + {a:.0f}·n^(−{b:.2f})",
)
ax.plot(
    grid,
    analysis.power_law(grid, *pure),
    ":",
    color="tab:orange",
    label=f"{pure[0]:.1f}·n^(−{pure[1]:.3f}) (no floor)",
)
ax.axhline(c, color="0.5", lw=0.8, ls="--")
for label, n in targets.items():
    ax.plot(n, expected[label], "s", color="tab:red")
    ax.annotate(
        f"{label}: {expected[label]:.2f}%",
        (n, expected[label]),
        xytext=(4, 6),
        textcoords="offset points",
        fontsize=8,
    )
ax.set(
    xscale="log",
    xlabel="appraised stones used for training (log scale)",
    ylabel="expected MAPE (%)",
    title="Learning curve and its extrapolation",
)
ax.legend(fontsize=8)
plt.show()
say(
    f"The fitted floor is {c:.2f}%. Trained on the {now:,} stones used here the expected error is "
    f"about **{expected['all stones now']:.2f}%**; with twice as many appraised stones "
    f"({2 * now:,}) about **{expected['×2']:.2f}%**, with four times as many "
    f"({4 * now:,}) about **{expected['×4']:.2f}%**. Even the floorless power law, the most "
    f"optimistic reading, promises no better than {hoped['×2']:.2f}% and {hoped['×4']:.2f}%."
)

# %% [markdown]
# ## 7. Conclusions

# %%
gain2 = expected["all stones now"] - expected["×2"]
fault_list = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
placeholder_advice = (
    " Ask the new appraiser to leave an unknown value empty, never -1 or 0."
    if len(negative_price) or len(zero_dims)
    else ""
)
raw_misleads = [n for n, t in effects.items() if t["raw_ratio"].iloc[-1] < 1]
raw_verdict = (
    f"Raw averages by grade say the opposite for {', '.join(raw_misleads)}, because the poorer "
    "grades come in bigger stones."
    if raw_misleads
    else "Raw averages by grade understate these effects, because of stone size."
)
worst_band_coverage = coverage_by_band["coverage"].idxmin()
lowest_coverage = coverage_by_band.loc[worst_band_coverage, "coverage"]
coverage_verdict = (
    f"; it is too narrow for {worst_band_coverage} stones ({lowest_coverage:.0%} coverage)"
    if lowest_coverage < 0.85
    else ""
)
depth_verdict = (
    "Depth, table and z only add noise: the model is more accurate without them in its trees."
    if mape_six <= mape_nine
    else "Depth, table and z improve the trees slightly; the model leaves them out."
)
say(
    f"""
- **The file needs the checks it now gets.** {report["rejected"]} of {report["rows_read"]:,} rows
  were unusable or contradictory ({fault_list}). None of them is used to train or priced as if
  it were fine; they wait in quarantine with their reason, to be corrected.{placeholder_advice}
- **Weight sets the price; the grades adjust it.** Price grows as about carat^{slope:.2f}. Judged
  at equal weight, the best color is worth ×{effects["color"]["at_equal_carat"].iloc[-1]:.2f} the
  worst, the best clarity ×{effects["clarity"]["at_equal_carat"].iloc[-1]:.2f}, the best cut
  ×{effects["cut"]["at_equal_carat"].iloc[-1]:.2f}. {raw_verdict} {depth_verdict}
- **The model prices a stone to within {ours_score.metrics["mape"]:.1f}% on average**, against
  {first.metrics["mape"]:.1f}% for a straightforward regression; it is least precise for
  {hardest} stones ({bands.loc[hardest, "mape"]:.1f}%).
- **Every price comes with a range and its reasons.** The 90% range held the appraised price for
  {held["coverage"]:.0%} of stones it had never seen, and is typically
  {held["median_relative_width"]:.0f}% of the price wide{coverage_verdict}. Each price splits
  into a base price and one factor per characteristic.
- **More appraisals help, slowly.** Doubling the collection would lower the typical error by about
  {gain2:.2f} points (from {expected["all stones now"]:.2f}% to {expected["×2"]:.2f}%); the
  error levels off near {c:.1f}%. More appraisals should help most where stones are few and the
  error largest: {hardest} ({int(bands.loc[hardest, "n"])} stones here).
"""
)
