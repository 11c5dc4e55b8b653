"""Accuracy, interval calibration and training time, our model next to the usual first attempt.

python benchmarks/accuracy.py [CSV]      (default: the embedded public data set)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from results import records

from training.comparison import compare
from training.datasets import public_diamonds_path
from training.features import feature_matrix
from training.job import TrainingRun
from training.storage import open_storage
from training.validation import read_records


@records("accuracy", "Accuracy, interval and training time")
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("csv", nargs="?", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    path = args.csv or public_diamonds_path()
    records = read_records(path.read_bytes()).accepted
    X, price = feature_matrix(records), records["price"].to_numpy(float)
    print(f"{path.name}: {len(price)} valid stones, {args.folds}-fold cross-validation\n")
    print(f"{'model':50s} {'MAPE %':>7s} {'MAE $':>8s} {'RMSE $':>8s} {'R²':>7s} {'fit s':>6s}")
    for score in compare(X, price, folds=args.folds):
        m = score.metrics
        print(
            f"{score.name:50s} {m['mape']:7.2f} {m['mae']:8.0f} {m['rmse']:8.0f} "
            f"{m['r2']:7.4f} {score.fit_seconds:6.2f}"
        )

    print("\nA whole training run (validate, cross-validate, fit, register, gate):")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        record = TrainingRun(
            open_storage((root / "data").as_uri()),
            open_storage((root / "models").as_uri()),
            log=lambda line: print("  " + line),
        ).run([str(path)])
        seconds = time.perf_counter() - started
        holdout = record["metrics"]["holdout"]
        print(f"  total {seconds:.1f} s")
        print(
            f"\n90% interval on held-out stones: coverage {holdout['coverage']:.1%}, "
            f"median relative width {holdout['median_relative_width']:.1f}%"
        )
        version_dir = root / "models" / "models" / record["version"]
        sizes = {p.name: p.stat().st_size for p in version_dir.iterdir()}
        print(f"model files: {sum(sizes.values()) / 1e6:.2f} MB {sizes}")
        _time_single_stone(root / "models", record["version"], records)


def _time_single_stone(models: Path, version: str, records) -> None:
    from training.registry import Registry

    model, _ = Registry(open_storage(models.as_uri())).load(version)
    X = feature_matrix(records.head(200))
    timings = []
    for x in X:
        started = time.perf_counter()
        price = model.predict(x[None, :])
        model.interval(x[None, :], price)
        model.explain(x)
        timings.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(timings, [50, 99])
    print(
        f"one stone, predict + interval + explain, in process: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )


if __name__ == "__main__":
    main()
