"""Drift counted by SQLite and PostgreSQL against SciPy on the same stones, live accuracy, the
stones the prediction log records, and the monitoring endpoints over HTTP."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from scipy.spatial.distance import jensenshannon

from functions.database import IngestedFiles, PricedStones
from functions.drift import binned_counts
from functions.monitoring import Monitoring, training_stones, window_bounds
from functions.prediction_log import (
    FACTOR_EVERY,
    FACTORS_PER_BATCH,
    PRICED,
    factor_stride,
    priced_stones,
)
from training.features import GROUPS, feature_matrix
from training.record import CATEGORIES, FEATURES
from training.registry import Registry
from training.storage import open_storage

from ..service_fixtures import KEY, Stack
from .test_drift import reference_psi

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def registry(tmp_path: Path, trained_models: Path) -> Registry:
    shutil.copytree(trained_models, tmp_path / "models")
    return Registry(open_storage((tmp_path / "models").as_uri()))


def stone_rows(model, X: np.ndarray, at: datetime, partner: str | None, version: str) -> list[dict]:
    prices = model.predict(X)
    _, factors = model.log_factors(X)
    rows = []
    for i, (x, price, factor) in enumerate(
        zip(X.tolist(), prices.tolist(), factors.tolist(), strict=True)
    ):
        row = dict(zip(FEATURES, x, strict=True))
        row.update({name: int(row[name]) for name in CATEGORIES})
        explained = i % FACTOR_EVERY == 0
        row.update(
            {f"factor_{g}": f if explained else None for g, f in zip(GROUPS, factor, strict=True)}
        )
        rows.append(
            {**row, "price": price, "created_at": at, "partner": partner, "model_version": version}
        )
    return rows


def test_drift_is_scipys_on_both_databases(database: sa.Engine, registry: Registry) -> None:
    version = registry.champion()["version"]
    model, _ = registry.load(version)
    X = feature_matrix(training_stones(registry, version))
    rng = np.random.default_rng(7)
    big = X[X[:, 0] >= 1.0]
    acme = big[rng.integers(0, len(big), 2400)]
    others = X[rng.integers(0, len(X), 900)]
    stones = PricedStones(database)
    stones.write_many(stone_rows(model, acme, NOW - timedelta(hours=2), "acme", version))
    stones.write_many(stone_rows(model, others, NOW - timedelta(hours=3), None, version))
    stones.write_many(stone_rows(model, others[:50], NOW - timedelta(days=3), "acme", version))
    monitoring = Monitoring(registry, stones, IngestedFiles(database))
    reference = monitoring.reference(version)
    assert reference.stones == len(X)
    assert registry.storage.exists(f"monitoring/{version}.json")

    for partner, live in (("acme", acme), (None, np.vstack([acme, others]))):
        drift = monitoring.drift(*window_bounds("1d", NOW), partner)
        assert drift["stones"] == len(live)
        assert drift["model_versions"] == {version: len(live)}
        prices = model.predict(live)
        columns = {name: live[:, FEATURES.index(name)] for name in FEATURES} | {"price": prices}
        for figure in [*drift["characteristics"], drift["price"]]:
            name = figure["name"]
            if name in CATEGORIES:
                counts = np.bincount(columns[name].astype(int), minlength=len(CATEGORIES[name]))
            else:
                counts = binned_counts(columns[name], reference.edges[name])
                assert figure["psi"] == pytest.approx(
                    reference_psi(np.array(reference.counts[name], float), counts), abs=1e-9
                )
            expected = jensenshannon(reference.counts[name], counts)
            assert figure["js_distance"] == pytest.approx(expected, abs=1e-9), name
        blocks = (acme, others) if partner is None else (acme,)
        explained = np.vstack([block[::FACTOR_EVERY] for block in blocks])
        _, factors = model.log_factors(explained)
        assert drift["explained_stones"] == len(explained)
        for factor, mean in zip(drift["factors"], factors.mean(axis=0), strict=True):
            assert factor["live"] == pytest.approx(np.exp(mean), rel=1e-9)
        json.dumps(drift, allow_nan=False)

    acme_drift = monitoring.drift(*window_bounds("1d", NOW), "acme")
    crossed = {f["name"] for f in acme_drift["characteristics"] if f["crossed"]}
    assert "carat" in crossed and acme_drift["price"]["crossed"]
    carat = next(f for f in acme_drift["factors"] if f["characteristic"] == "carat")
    assert carat["moved"] and carat["shift"] > 1.1

    days = monitoring.daily(5, "acme", today=NOW.date())
    assert [d["stones"] for d in days["days"]] == [0, 50, 0, 0, 2400]
    again = Monitoring(registry, stones, IngestedFiles(database)).reference(version)
    assert again == reference


def test_empty_small_unknown_and_early_windows_answer_plainly(
    database: sa.Engine, registry: Registry, tmp_path: Path
) -> None:
    version = registry.champion()["version"]
    model, _ = registry.load(version)
    X = feature_matrix(training_stones(registry, version))[:3]
    stones = PricedStones(database)
    stones.write_many(stone_rows(model, X, NOW - timedelta(minutes=5), None, version))
    monitoring = Monitoring(registry, stones, IngestedFiles(database))
    empty = monitoring.drift(*window_bounds("1h", NOW - timedelta(days=1)))
    three = monitoring.drift(*window_bounds("1h", NOW))
    nobody = monitoring.drift(*window_bounds("1d", NOW), "nobody")
    early = monitoring.drift(*window_bounds("30d", datetime(2001, 1, 1, tzinfo=UTC)))
    for drift in (empty, nobody, early):
        assert drift["stones"] == 0
        figures = [*drift["characteristics"], drift["price"]]
        assert all(f["js_distance"] is None and f["crossed"] is None for f in figures)
        assert all(f["live"] is None and f["moved"] is None for f in drift["factors"])
    assert three["stones"] == 3
    assert all(f["js_distance"] is not None for f in three["characteristics"])
    assert all(f["crossed"] is None for f in three["characteristics"])
    for drift in (empty, three, nobody, early):
        json.dumps(drift, allow_nan=False)

    (tmp_path / "models" / "champion.json").unlink()
    without = Monitoring(registry, stones, IngestedFiles(database)).drift(*window_bounds("1h", NOW))
    assert without["reference"] is None and without["stones"] == 3
    assert without["characteristics"] == [] and without["price"] is None


def test_live_accuracy_is_each_scored_files_beside_the_cv_mape(
    database: sa.Engine, registry: Registry
) -> None:
    version = registry.champion()["version"]
    cv = registry.metadata(version)["metrics"]["cross_validation"]["mape"]
    ledger = IngestedFiles(database)
    for number, mape in enumerate((cv, 2 * cv)):
        claim = ledger.claim("data", f"incoming/{number}.csv", 1, lease=30)
        ledger.finish(
            claim,
            scored_at=NOW + timedelta(hours=number),
            champion_version=version,
            champion_mape=mape,
            champion_scored=100,
            champion_coverage=0.9,
        )
    ledger.finish(ledger.claim("data", "incoming/unscored.csv", 1, lease=30))
    accuracy = Monitoring(registry, PricedStones(database), ledger).accuracy()
    assert accuracy["champion"] == version and accuracy["cv_mape"] == cv
    assert [f["name"] for f in accuracy["files"]] == ["incoming/0.csv", "incoming/1.csv"]
    assert [f["alert"] for f in accuracy["files"]] == [False, True]
    assert all(f["coverage"] == 0.9 and f["cv_mape"] == cv for f in accuracy["files"])


def test_the_log_records_each_priced_stone_with_its_factors(
    database: sa.Engine, trained_models: Path
) -> None:
    from functions.payloads.stones import Stone

    registry = Registry(open_storage(trained_models.as_uri()))
    version = registry.champion()["version"]
    model, _ = registry.load(version)
    X = feature_matrix(training_stones(registry, version))
    records = training_stones(registry, version).head(2000)
    stones = [
        Stone(**{name: records.iloc[i % len(records)][name] for name in FEATURES})
        for i in range(10_000)
    ]
    prices = model.predict(X[np.arange(10_000) % len(records)])
    entries = [
        {
            "created_at": NOW,
            "model_version": version,
            "partner": "acme",
            PRICED: (stones, prices.tolist()),
        },
        {"created_at": NOW, "model_version": None, "status": 422},
        {"created_at": NOW, "model_version": "gone", PRICED: (stones[:2], [1.0, 2.0])},
    ]
    rows = priced_stones(entries, lambda v, x: model.log_factors(x)[1] if v == version else None)
    assert len(rows) == 10_002 and all(PRICED not in entry for entry in entries)
    assert rows[0]["partner"] == "acme" and rows[-1]["factor_carat"] is None
    explained = [i for i, row in enumerate(rows[:10_000]) if row["factor_carat"] is not None]
    assert explained == list(range(0, 10_000, factor_stride(10_000)))
    assert factor_stride(10) == FACTOR_EVERY and len(explained) == FACTORS_PER_BATCH
    _, factors = model.log_factors(X[np.array(explained[:3]) % len(records)])
    for i, factor in zip(explained[:3], factors[:, 0], strict=True):
        assert rows[i]["factor_carat"] == pytest.approx(factor, rel=1e-12)
    PricedStones(database).write_many(rows)
    monitoring = Monitoring(registry, PricedStones(database), IngestedFiles(database))
    drift = monitoring.drift(*window_bounds("1h", NOW + timedelta(minutes=1)))
    assert drift["stones"] == 10_002 and drift["model_versions"] == {version: 10_000, "gone": 2}
    assert drift["explained_stones"] == len(explained)


# -- over HTTP -------------------------------------------------------------------------------
def test_monitoring_over_http(stack: Stack) -> None:
    batch = [
        {
            "carat": 0.3 + i / 100,
            "cut": "Ideal",
            "color": "E",
            "clarity": "VS1",
            "depth": 61.5,
            "table": 57,
            "x": 4.3 + i / 50,
            "y": 4.32 + i / 50,
            "z": 2.66 + i / 80,
        }
        for i in range(20)
    ]
    assert stack.call("POST", "/v1/price", json=batch).status_code == 200
    refused = {**batch[0], "y": 58.9}
    assert stack.call("POST", "/v1/price", json=[refused, batch[1]]).status_code == 422
    deadline = time.monotonic() + 20
    while True:
        report = stack.call("GET", "/v1/monitoring?window=1h")
        assert report.status_code == 200, report.text
        body = report.json()
        if body["drift"]["stones"] >= 20 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    drift = body["drift"]
    assert drift["stones"] == 20 and drift["refused_requests"] >= 1
    assert drift["refused_stones"] >= 2
    assert all(f["crossed"] is None for f in drift["characteristics"])
    assert {f["name"] for f in drift["characteristics"]} == set(FEATURES)
    assert isinstance(body["accuracy"]["files"], list)
    nobody = stack.call("GET", "/v1/monitoring?window=30d&partner=nobody").json()
    assert nobody["drift"]["stones"] == 0
    assert (
        stack.call("GET", "/v1/monitoring?end=2001-01-01T00:00:00Z").json()["drift"]["stones"] == 0
    )
    hostile = ("partner=a%00b", "partner=a%20b")
    for bad in (
        "window=0d",
        "window=1w",
        "window=10000d",
        "end=yesterday",
        "partner=",
        "x=1",
        *hostile,
    ):
        response = stack.call("GET", f"/v1/monitoring?{bad}")
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json")
    for end in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00%2B05:00"):
        clamped = stack.call("GET", f"/v1/monitoring?window=999d&end={end}")
        assert clamped.status_code == 200 and clamped.json()["drift"]["stones"] == 0, end
    daily = stack.call("GET", "/v1/monitoring/daily?days=3").json()
    assert len(daily["days"]) == 3 and daily["days"][-1]["stones"] >= 20
    assert stack.call("POST", "/v1/monitoring/check").status_code == 401
    checked = stack.call("POST", "/v1/monitoring/check", key=KEY)
    assert checked.status_code == 200 and checked.json()["drift"]["stones"] >= 20


def test_the_daily_check_event_logs_one_line_per_characteristic(
    database_url: str, registry: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from cloudevents.http import CloudEvent

    from functions.database import migrate
    from functions.ingestion import MONITORING_CHECK, cloud_event_function
    from functions.instance import Instance
    from functions.logs import CloudLoggingFormatter
    from functions.settings import ServiceSettings

    migrate(database_url)
    settings = ServiceSettings(
        database_url=database_url,
        models_root=(tmp_path / "models").as_uri(),
        data_root=(tmp_path / "data").as_uri(),
    )
    handler = cloud_event_function(Instance(settings))
    event = CloudEvent({"type": MONITORING_CHECK, "source": "//cloudscheduler"}, None)
    with caplog.at_level(logging.INFO, logger="diamonds.monitoring"):
        handler(event)
    lines = [r for r in caplog.records if r.name == "diamonds.monitoring"]
    assert len(lines) == len(FEATURES) + 1
    logged = json.loads(CloudLoggingFormatter().format(lines[0]))
    assert logged["drift"]["characteristic"] == "carat" and logged["drift"]["crossed"] is False
    assert logged["severity"] == "INFO" and logged["drift"]["stones"] == 0


def test_diamonds_monitor_prints_the_tables(registry: Registry, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from functions.database import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = make_engine(url)
    migrate(engine)
    version = registry.champion()["version"]
    model, _ = registry.load(version)
    X = feature_matrix(training_stones(registry, version))[:40]
    now = datetime.now(UTC)
    PricedStones(engine).write_many(stone_rows(model, X, now, "acme", version))
    engine.dispose()
    env = {
        **os.environ,
        "DIAMONDS_DATABASE_URL": url,
        "DIAMONDS_MODELS_ROOT": (tmp_path / "models").as_uri(),
    }

    def monitor(*argv: str) -> subprocess.CompletedProcess:
        command = [str(Path(sys.executable).with_name("diamonds")), "monitor", *argv]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    shown = monitor("--window", "12h", "--partner", "acme")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "40 stones priced" in lines[0] and "by acme" in lines[0]
    carat = next(line for line in lines if line.startswith("carat "))
    assert carat.endswith("too few stones")
    assert "no ingested file has been scored yet" in shown.stdout
    nobody = monitor("--partner", "nobody")
    assert nobody.returncode == 0 and ": 0 stones priced" in nobody.stdout
    bad = monitor("--window", "1w")
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "--window 1w" in bad.stderr
