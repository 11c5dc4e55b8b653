"""Explanations, before and after a change: the same figures for two checkouts, side by side.

    python benchmarks/explanations.py [CSV] [--before DIR] [--stones 10000] [--repeats 3]

DIR is another checkout of the repository (e.g. `git worktree add /tmp/before COMMIT`); its
code runs with this interpreter and its packages (PYTHONPATH=DIR, working directory DIR).
Without it, only this checkout is measured. CSV, the champion's training file, defaults to
../shared/data/diamonds.csv beside the checkout, else the embedded public data set; one
champion, trained by this checkout in a temp dir, serves both sides. Measured on each side,
the sides alternated so that a drifting machine load is shared:

  (i)   in-process, the champion loaded from the registry: one stone explained
        (PriceModel.explain), 2,000 stones one after another: p50, p99
  (ii)  in-process: --stones stones explained in bulk (PriceModel.explanations; a checkout
        without it explains them one at a time, as its callers did): median of --repeats
  (iii) functions-framework serving the pricing target (WORKERS=2 THREADS=1), over loopback:
        one stone with and without explain=true, 1,000 sequential POSTs each per repeat
        (p50, p99 of all), and --stones stones in one POST /v1/price with and without
        explain=true (median of 5 per repeat, then of the repeats)
  (iv)  `diamonds price --in PUBLIC --out OUT [--explain]` on the public data set (53,940
        rows; the stones the champion refuses get an error instead): median of --repeats;
        the explained files of the two sides are compared

Every figure is printed with the 1-minute load average seen while it was measured: the machine
may be shared, and a loaded machine inflates all figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from harness import (
    REPO,
    Environment,
    Server,
    console_script,
    default_csv,
    machine_load,
    median,
    ours_command,
    percentile,
    running,
    sequential,
    server_env,
    valid_stones,
)
from results import records

SINGLE = 2_000
WARMUP = 100
HTTP_SINGLE = 1_000
HTTP_BATCHES = 5


def model_figures(csv: Path, stones: int) -> dict:
    """Run in the checkout measured (see --model-figures): its PriceModel, this champion."""
    import numpy as np

    import training.model
    from training.features import feature_matrix
    from training.registry import Registry
    from training.storage import open_storage
    from training.validation import read_records

    registry = Registry(open_storage(os.environ["DIAMONDS_MODELS_ROOT"]))
    model, _ = registry.load(registry.champion()["version"])
    X = feature_matrix(read_records(csv.read_bytes()).accepted)
    single = []
    for x in np.resize(X, (WARMUP + SINGLE, X.shape[1])):
        started = time.perf_counter()
        model.explain(x)
        single.append((time.perf_counter() - started) * 1000)
    explain_all = getattr(model, "explanations", None) or (lambda X: [model.explain(x) for x in X])
    many = np.resize(X, (stones, X.shape[1]))
    started = time.perf_counter()
    explained = explain_all(many)
    bulk = time.perf_counter() - started
    assert len(explained) == stones
    return {"single_ms": single[WARMUP:], "bulk_s": bulk, "module": training.model.__file__}


class Figures:
    """Values and the load average seen with each, per side and figure."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.loads: dict[tuple[str, str], list[float]] = defaultdict(list)

    def add(self, side: str, figure: str, *values: float) -> None:
        self.values[side, figure].extend(values)
        self.loads[side, figure].append(os.getloadavg()[0])
        shown = f"{median(values):.3f}" if len(values) < 20 else f"{len(values)} timings"
        print(f"  {side:7s} {figure:44s} {shown:>12s}  (load {os.getloadavg()[0]:.2f})", flush=True)

    def load(self, side: str, figure: str) -> str:
        loads = self.loads[side, figure]
        if not loads:
            return ""
        low, high = min(loads), max(loads)
        return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}"


def side_env(environment: Environment, checkout: Path) -> dict:
    return {**environment.env, "PYTHONPATH": str(checkout)}


def in_process(figures: Figures, side: str, checkout: Path, env: dict, csv: Path, n: int) -> str:
    result = subprocess.run(
        [sys.executable, __file__, "--no-record", "--model-figures", str(csv), "--stones", str(n)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise SystemExit(f"in-process figures failed ({side}):\n{result.stderr[-3000:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    figures.add(side, "in-process: one stone explained, ms", *measured["single_ms"])
    figures.add(side, f"in-process: {n:,} stones explained, s", measured["bulk_s"])
    return measured["module"]


def over_http(
    figures: Figures, side: str, checkout: Path, env: dict, one: bytes, many: bytes, n: int
) -> None:
    def make(port: int) -> Server:
        return Server(ours_command(port), server_env(env, 2, 1), port, cwd=checkout)

    with running(make, one) as server:
        for query, name in (("", "one stone"), ("?explain=true", "one stone explained")):
            timings = sequential(server.port, f"/v1/price{query}", one, HTTP_SINGLE)
            figures.add(side, f"HTTP: {name}, ms", *timings)
        for query, name in (("", f"{n:,} stones"), ("?explain=true", f"{n:,} stones explained")):
            timings = sequential(server.port, f"/v1/price{query}", many, HTTP_BATCHES, warmup=1)
            figures.add(side, f"HTTP: {name}, s", median(timings) / 1000)


def price_file(
    figures: Figures, side: str, checkout: Path, env: dict, public: Path, out: Path, explain: bool
) -> str:
    command = [console_script("diamonds"), "price", "--in", str(public), "--out", str(out)]
    started = time.perf_counter()
    result = subprocess.run(
        command + (["--explain"] if explain else []),
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"diamonds price failed ({side}):\n{result.stderr[-3000:]}")
    figures.add(side, f"diamonds price{' --explain' if explain else ''}, s", elapsed)
    match = re.search(r"priced (\S+) of (\S+) stones", result.stdout)
    return f"{match.group(1)} of {match.group(2)}" if match else result.stdout.strip()


def compare_files(before: Path, after: Path) -> str:
    """How far apart two explained price files are."""
    import numpy as np
    import pandas as pd

    a, b = pd.read_csv(before), pd.read_csv(after)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return (
            f"different shapes: {list(a.columns)} × {len(a)} against {list(b.columns)} × {len(b)}"
        )
    numeric = [c for c in a.columns if a[c].dtype.kind == "f"]
    others = [c for c in a.columns if c not in numeric]
    differing = [c for c in numeric if not a[c].equals(b[c])]
    differing += [c for c in others if not a[c].fillna("").equals(b[c].fillna(""))]
    if not differing:
        return "identical"
    worst = max(
        (float(np.nanmax(np.abs(a[c] - b[c]))) for c in differing if c in numeric), default=0.0
    )
    return f"columns {', '.join(differing)} differ (largest difference {worst:g})"


def report(figures: Figures, sides: list[str]) -> None:
    names = list(dict.fromkeys(figure for _, figure in figures.values))
    header = f"{'figure':46s}" + "".join(f"{side:>28s}" for side in sides)
    if len(sides) == 2:
        header += f"{'before/after':>14s}"
    print(f"\n{header}\n{'':46s}" + "".join(f"{'(load)':>28s}" for _ in sides))
    for name in names:
        cells, centres = [], []
        for side in sides:
            values = figures.values[side, name]
            if len(values) >= 20:
                centre = percentile(values, 50)
                cell = f"p50 {centre:.2f} p99 {percentile(values, 99):.2f}"
            else:
                centre = median(values)
                cell = f"{centre:.3f}"
            centres.append(centre)
            cells.append(f"{cell} ({figures.load(side, name)})")
        line = f"{name:46s}" + "".join(f"{cell:>28s}" for cell in cells)
        if len(sides) == 2:
            line += f"{centres[0] / centres[1]:13.1f}×"
        print(line)


@records("explanations", "Explanations")
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("csv", nargs="?", type=Path, default=None)
    parser.add_argument("--before", type=Path, default=None, help="another checkout to compare")
    parser.add_argument("--stones", type=int, default=10_000, help="stones explained in bulk")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-figures", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model_figures is not None:
        print(json.dumps(model_figures(args.model_figures, args.stones)))
        return

    from training.datasets import public_diamonds_path

    csv, public = args.csv or default_csv(), public_diamonds_path()
    checkouts = {"after": REPO}
    if args.before is not None:
        checkouts = {"before": args.before.resolve(), **checkouts}
    print(f"explanations, before and after; {machine_load()}")
    figures = Figures()
    with Environment(csv) as environment:
        stones = valid_stones(csv)
        one = json.dumps(stones[0]).encode()
        many = json.dumps((stones * (args.stones // len(stones) + 1))[: args.stones]).encode()
        priced: dict[str, str] = {}
        for repeat in range(args.repeats):
            print(f"\nrepeat {repeat + 1} of {args.repeats}")
            for side, checkout in checkouts.items():
                env = side_env(environment, checkout)
                module = in_process(figures, side, checkout, env, csv, args.stones)
                if repeat == 0:
                    where = "this checkout" if checkout == REPO else f"the checkout {checkout.name}"
                    print(f"  {side:7s} is the code of {where} ({Path(module).name})")
                over_http(figures, side, checkout, env, one, many, args.stones)
                for explain in (False, True):
                    out = environment.root / f"{side}{'-explained' if explain else ''}.csv"
                    priced[side] = price_file(figures, side, checkout, env, public, out, explain)
        print(f"\nchampion trained on {csv.name}; {args.stones:,} stones in bulk; diamonds price")
        print("on " + "; ".join(f"{side}: priced {n}" for side, n in priced.items()))
        print(f"load averages in brackets (1 minute, on {os.cpu_count()} cores): a shared machine")
        report(figures, list(checkouts))
        if "before" in checkouts:
            verdict = compare_files(
                environment.root / "before-explained.csv", environment.root / "after-explained.csv"
            )
            print(f"\ndiamonds price --explain files, before against after: {verdict}")
    print(f"\n{machine_load()}")


if __name__ == "__main__":
    main()
