"""Drift on PostgreSQL: how long 30 days of priced stones take to compare with the champion's
training stones, and whether a shift is flagged and a replay is not.

1. 1,000,000 priced stones (training stones drawn at random, logged over 30 days, a tenth of
   them by partners) are written to a new PostgreSQL database; the drift of the 30-day window
   is timed (the reference histograms are made once before, timed apart);
2. a day on which one partner sends only 2–3 ct stones beside everyone else's usual traffic:
   the drift for that partner and in the total;
3. a day on which the training stones are sent again as requests: no flag.

    python benchmarks/monitoring.py [--stones 1000000] [--csv FILE] [--models DIR]

The champion is trained on FILE (the public data set by default), in DIR if given (and kept
there for the next run).
    DIAMONDS_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test (the server)
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import machine_load

SERVER = os.environ.get(
    "DIAMONDS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
END = datetime(2026, 11, 30, tzinfo=UTC)
COLUMNS = (
    "created_at",
    "partner",
    "model_version",
    *("carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z", "price"),
    *(f"factor_{g}" for g in ("carat", "cut", "color", "clarity", "proportions")),
)


def train(root: Path, csv: Path) -> None:
    from training.job import TrainingRun
    from training.storage import open_storage

    TrainingRun(
        open_storage((root / "data").as_uri()),
        open_storage((root / "models").as_uri()),
        log=lambda line: None,
    ).run([str(csv)])


def copy_rows(engine: sa.Engine, X: np.ndarray, price, factors, at, partners, version) -> None:
    """The rows through COPY, a million in seconds."""
    quoted = ", ".join(f'"{name}"' for name in COLUMNS)
    null = "\\N"
    buffer = io.StringIO()
    stamps = [t.isoformat() for t in at]
    X, price, factors = X.tolist(), price.tolist(), factors.tolist()
    for i in range(len(X)):
        x = X[i]
        buffer.write(
            f"{stamps[i]}\t{partners[i] or null}\t{version}\t{x[0]!r}\t{int(x[1])}\t{int(x[2])}"
            f"\t{int(x[3])}\t{x[4]!r}\t{x[5]!r}\t{x[6]!r}\t{x[7]!r}\t{x[8]!r}\t{price[i]!r}\t"
            + "\t".join(repr(f) for f in factors[i])
            + "\n"
        )
    raw = engine.raw_connection()
    try:
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY priced_stones ({quoted}) FROM STDIN") as copy,
        ):
            copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


def flags(drift: dict) -> str:
    crossed = [f["name"] for f in [*drift["characteristics"], drift["price"]] if f["crossed"]]
    return ", ".join(crossed) or "none"


def line(drift: dict) -> str:
    figures = {f["name"]: f for f in [*drift["characteristics"], drift["price"]]}
    return (
        f"{drift['stones']:>9,} stones  JS carat {figures['carat']['js_distance']:.3f} "
        f"price {figures['price']['js_distance']:.3f} cut {figures['cut']['js_distance']:.3f}  "
        f"flagged: {flags(drift)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stones", type=int, default=1_000_000)
    parser.add_argument("--csv", type=Path, default=None)
    parser.add_argument(
        "--models", type=Path, help="a folder to keep the trained champion in (trained if absent)"
    )
    args = parser.parse_args()

    from functions.database import IngestedFiles, PricedStones, make_engine, migrate
    from functions.monitoring import Monitoring, training_stones, window_bounds
    from training.datasets import public_diamonds_path
    from training.features import feature_matrix
    from training.registry import Registry
    from training.storage import open_storage

    admin = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    name = f"diamonds_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = args.models or Path(folder)
            if not (root / "models" / "champion.json").is_file():
                started = time.perf_counter()
                train(root, args.csv or public_diamonds_path())
                elapsed = time.perf_counter() - started
                print(f"champion trained in {elapsed:.1f} s ({machine_load()})")
            registry = Registry(open_storage((root / "models").as_uri()))
            version = registry.champion()["version"]
            model, _ = registry.load(version)
            X = feature_matrix(training_stones(registry, version))
            price = model.predict(X)
            _, factors = model.log_factors(X)

            engine = make_engine(admin.url.set(database=name).render_as_string(False))
            migrate(engine)
            rng = np.random.default_rng(1)
            pick = rng.integers(0, len(X), args.stones)
            seconds = rng.uniform(0, 30 * 86400, args.stones)
            at = [END - timedelta(seconds=float(s)) for s in seconds]
            names = np.array([None, "acme", "brill"], dtype=object)
            partners = names[rng.choice(3, args.stones, p=[0.9, 0.05, 0.05])]
            started = time.perf_counter()
            copy_rows(engine, X[pick], price[pick], factors[pick], at, partners, version)
            with engine.begin() as connection:
                connection.execute(sa.text("ANALYZE priced_stones"))
            print(f"{args.stones:,} priced stones written in {time.perf_counter() - started:.1f} s")

            shutil.rmtree(root / "models" / "monitoring", ignore_errors=True)
            monitoring = Monitoring(registry, PricedStones(engine), IngestedFiles(engine))
            started = time.perf_counter()
            monitoring.reference(version)
            print(
                f"reference of {len(X):,} training stones made in "
                f"{time.perf_counter() - started:.2f} s ({machine_load()})"
            )
            for attempt in range(3):
                started = time.perf_counter()
                drift = monitoring.drift(*window_bounds("30d", END))
                elapsed = time.perf_counter() - started
                print(f"drift over 30 days, run {attempt + 1}: {elapsed:.2f} s ({machine_load()})")
            print(f"  30 days:      {line(drift)}")
            started = time.perf_counter()
            monitoring.daily(30, today=(END - timedelta(seconds=1)).date())
            print(f"the view's 30 daily series: {time.perf_counter() - started:.2f} s")

            day = END + timedelta(days=1)
            big = np.flatnonzero((X[:, 0] >= 2) & (X[:, 0] <= 3))
            usual = rng.integers(0, len(X), 5000)
            shifted = big[rng.integers(0, len(big), 2000)]
            when = [day - timedelta(seconds=float(s)) for s in rng.uniform(0, 86400, 7000)]
            chosen = np.concatenate([usual, shifted])
            who = np.array([None] * 5000 + ["shift"] * 2000, dtype=object)
            copy_rows(engine, X[chosen], price[chosen], factors[chosen], when, who, version)
            print("a day with a partner sending only 2–3 ct stones (2,000 beside 5,000 usual):")
            print(f"  that partner: {line(monitoring.drift(*window_bounds('1d', day), 'shift'))}")
            print(f"  in the total: {line(monitoring.drift(*window_bounds('1d', day)))}")

            replay_day = day + timedelta(days=1)
            when = [replay_day - timedelta(seconds=float(s)) for s in rng.uniform(0, 86400, len(X))]
            copy_rows(engine, X, price, factors, when, [None] * len(X), version)
            print("a day replaying the training stones as requests:")
            print(f"  in the total: {line(monitoring.drift(*window_bounds('1d', replay_day)))}")
            sample = replay_day + timedelta(days=1)
            part = rng.choice(len(X), 1000, replace=False)
            when = [sample - timedelta(seconds=float(s)) for s in rng.uniform(0, 86400, 1000)]
            copy_rows(engine, X[part], price[part], factors[part], when, [None] * 1000, version)
            print("a day of 1,000 training stones drawn at random:")
            print(f"  in the total: {line(monitoring.drift(*window_bounds('1d', sample)))}")
            engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
