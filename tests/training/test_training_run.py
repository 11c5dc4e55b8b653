"""`diamonds train | price | models` and `python -m training`, end to end on real files."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.checksums import sha256
from training.cli import main
from training.evaluation import metrics
from training.features import feature_matrix
from training.fingerprints import fingerprints
from training.registry import ChecksumMismatch, PromotionConflict, Registry
from training.sampling import evaluation_split
from training.storage import open_storage
from training.validation import read_records

FAST = ["--param", "n_estimators=40", "--param", "calibration_folds=3"]


def train(path: Path, roots: dict[str, str], *extra: str) -> int:
    return main(
        [
            "train",
            str(path),
            "--data-root",
            roots["data"],
            "--models-root",
            roots["models"],
            *FAST,
            *extra,
        ]
    )


@pytest.fixture()
def customer_file(tmp_path: Path, customer_csv: bytes) -> Path:
    path = tmp_path / "customer.csv"
    path.write_bytes(customer_csv)
    return path


@pytest.fixture()
def registry(roots: dict[str, str]) -> Registry:
    return Registry(open_storage(roots["models"]))


def test_training_on_the_customer_file(customer_file, roots, registry, capsys) -> None:
    assert train(customer_file, roots) == 0
    out = capsys.readouterr().out
    assert "5000 rows read, 4984 accepted, 16 quarantined" in out
    assert "[evaluate] CV MAPE" in out and "promoted" in out

    data = open_storage(roots["data"])
    rejected = pd.read_csv(pd.io.common.BytesIO(data.read("quarantine/customer.rejected.csv")))
    assert len(rejected) == 16 and rejected["reason"].notna().all()
    report = json.loads(data.read("quarantine/customer.report.json"))
    assert report["rows_read"] == 5000 and report["accepted"] + report["rejected"] == 5000

    [version] = registry.versions()
    assert registry.champion()["version"] == version
    meta = registry.metadata(version)
    assert meta["lineage"]["sources"][0]["sha256"] == report["source"]["sha256"]
    assert {"cross_validation", "holdout"} <= set(meta["metrics"])
    assert {"mae", "mape", "rmse", "r2", "coverage", "median_relative_width"} <= set(
        meta["metrics"]["holdout"]
    )
    assert meta["metrics"]["cross_validation"]["by_carat"]
    # coverage is a fraction, in the unit of the coverage the interval is calibrated to
    holdout = meta["metrics"]["holdout"]
    assert 0.8 < holdout["coverage"] < 1 and meta["interval"]["coverage"] == 0.9
    assert all(0 <= band["coverage"] <= 1 for band in holdout["by_carat"])
    assert set(meta["artifacts"]) == {"model.json", "lightgbm.txt", "training_rows.npy"}
    assert sum(a["bytes"] for a in meta["artifacts"].values()) < 5_000_000
    run = registry.run(meta["run_id"])
    assert run["status"] == "succeeded" and run["gate"]["decision"] == "promoted"
    assert set(run["stages"]) == {"read", "validate", "evaluate", "fit", "register", "gate"}


def test_a_worse_model_stays_a_candidate_and_rollback_works(
    customer_file, roots, registry, capsys
) -> None:
    assert train(customer_file, roots) == 0
    first = registry.champion()["version"]
    assert train(customer_file, roots, "--param", "n_estimators=1", "--param", "max_depth=1") == 0
    second = registry.versions()[-1]
    assert registry.champion()["version"] == first
    gate = registry.run(registry.metadata(second)["run_id"])["gate"]
    assert gate["decision"] == "candidate" and "worse by more than 2%" in gate["reason"]

    assert main(["models", "promote", second, "--models-root", roots["models"]]) == 0
    assert registry.champion()["version"] == second
    assert (
        main(["models", "promote", first, "--models-root", roots["models"], "--reason", "rollback"])
        == 0
    )
    champion = registry.champion()
    assert champion == {**champion, "version": first, "previous": second, "reason": "rollback"}
    capsys.readouterr()
    assert main(["models", "list", "--models-root", roots["models"]]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith(f"* {first}") and listing[1].startswith(f"  {second}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"carat,cut,color,clarity,depth,table,price,x,y,z\n", "no data rows"),
        (b"\x00\x01\x02garbage" * 100, "binary"),
        (
            b"carat;cut;color;clarity;depth;table;price;x;y;z\n1;Ideal;E;VS1;61;57;5000;6.4;6.4;3.9\n",
            "comma-separated",
        ),
        (b"carat,cut\n1,Ideal\n", "required columns missing"),
        (
            b"carat,cut,color,clarity,depth,table,price,x,y,z\n1,Ideal,E,VS1,61,57,-1,6.4,6.4,3.9\n",
            "only 0 valid rows",
        ),
    ],
)
def test_a_bad_file_exits_2_and_never_touches_the_champion(
    content, message, customer_file, roots, registry, tmp_path, capsys
) -> None:
    assert train(customer_file, roots) == 0
    before = registry.champion()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    capsys.readouterr()
    assert train(bad, roots) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert registry.champion() == before
    assert len(registry.versions()) == 1
    runs = [registry.run(r) for r in registry.runs()]
    assert sorted(r["status"] for r in runs) == ["rejected_input", "succeeded"]


@pytest.mark.parametrize(
    "argv",
    [
        ["train"],
        ["train", "missing.csv"],
        ["train", "x.csv", "--param", "n_estimators=many"],
        ["train", "x.csv", "--param", "learning_rate=nan"],
        ["train", "x.csv", "--param", "nonsense=1"],
        ["train", "x.csv", "--run-id", "../../etc"],
        ["train", "ftp://host/x.csv"],
        ["models", "show", "no-such-version"],
        ["frobnicate"],
        ["price", "--in", "missing.csv", "--out", "out.csv"],
    ],
)
def test_unusable_arguments_exit_2_with_one_line(
    argv, roots, capsys, monkeypatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIAMONDS_DATA_ROOT", roots["data"])
    monkeypatch.setenv("DIAMONDS_MODELS_ROOT", roots["models"])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("diamonds: error:") and "Traceback" not in err


def test_a_bad_environment_variable_is_named(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv("DIAMONDS_GATE_TOLERANCE", "lots")
    assert main(["train", str(tmp_path / "x.csv")]) == 2
    assert "DIAMONDS_GATE_TOLERANCE" in capsys.readouterr().err


def test_a_tampered_model_is_refused(customer_file, roots, registry, tmp_path, capsys) -> None:
    assert train(customer_file, roots) == 0
    version = registry.champion()["version"]
    key = f"models/{version}/model.json"
    storage = registry.storage
    storage.write(key, storage.read(key).replace(b'"intercept":', b'"intercept": 1e3 + '[:14]))
    with pytest.raises(ChecksumMismatch):
        registry.load(version)
    stones = tmp_path / "stones.csv"
    stones.write_text(
        "carat,cut,color,clarity,depth,table,x,y,z\n1,Ideal,E,VS1,61.5,57,6.4,6.43,3.95\n"
    )
    assert (
        main(
            [
                "price",
                "--in",
                str(stones),
                "--out",
                str(tmp_path / "o.csv"),
                "--models-root",
                roots["models"],
            ]
        )
        == 1
    )
    assert "does not match its checksum" in capsys.readouterr().err


def test_two_promotions_decided_on_the_same_champion_cannot_both_win(
    customer_file, roots, registry
) -> None:
    assert train(customer_file, roots) == 0
    assert train(customer_file, roots) == 0
    a, b = registry.versions()
    _, token = registry.champion_with_token()
    registry.promote(a, "first", expected=token)
    with pytest.raises(PromotionConflict):
        registry.promote(b, "second", expected=token)
    assert registry.champion()["version"] == a


def test_batch_pricing_prices_good_rows_and_explains_bad_ones(
    customer_file, roots, tmp_path, capsys
) -> None:
    assert train(customer_file, roots) == 0
    stones = tmp_path / "stones.csv"
    stones.write_text(
        "sku,carat,cut,color,clarity,depth,table,x,y,z\n"
        "A,1.0,Ideal,E,VS1,61.5,57,6.4,6.43,3.95\n"
        "B,2.0,Premium,H,SI2,58.9,57,8.09,58.9,8.06\n"
        "C,1.0,Ideal,Q,VS1,61.5,57,6.4,6.43,3.95\n"
        "D,9.0,Ideal,E,VS1,61.5,57,13.3,13.3,8.2\n"
        "E,1.0,Ideal,E,VS1,61.5,57,6.4,6.43,3.95\n"
    )
    out = tmp_path / "priced.csv"
    code = main(
        [
            "price",
            "--in",
            str(stones),
            "--out",
            str(out),
            "--explain",
            "--models-root",
            roots["models"],
        ]
    )
    assert code == 0
    assert "priced 2 of 5 stones" in capsys.readouterr().out
    priced = pd.read_csv(out)
    assert list(priced["sku"]) == ["A", "B", "C", "D", "E"]
    assert priced["price"].notna().tolist() == [True, False, False, False, True]
    assert "carat: dimensions" in priced["error"][1] and "unknown color" in priced["error"][2]
    assert "outside the range the model was trained on" in priced["error"][3]
    factors = priced.loc[0, [c for c in priced.columns if c.startswith("factor_")]]
    assert priced["base_price"][0] * np.prod(factors) == pytest.approx(priced["price"][0], rel=1e-4)
    assert priced["price_low"][0] < priced["price"][0] < priced["price_high"][0]


def test_python_m_training_is_the_container_entrypoint(customer_file, roots) -> None:
    command = [sys.executable, "-m", "training", str(customer_file), *FAST]
    env = {"DIAMONDS_DATA_ROOT": roots["data"], "DIAMONDS_MODELS_ROOT": roots["models"], "PATH": ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[gate] promoted" in done.stdout
    empty = customer_file.with_name("empty.csv")
    empty.write_bytes(b"")
    done = subprocess.run(
        [*command[:3], str(empty)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2 and "the file is empty" in done.stderr


def test_a_scheduled_run_keeps_the_champions_recipe(customer_file, roots, registry) -> None:
    tuned = ["--param", "n_estimators=30", "--param", "max_depth=5"]
    assert train(customer_file, roots, *tuned) == 0
    command = ["train", str(customer_file), "--data-root", roots["data"]]
    command += ["--models-root", roots["models"], "--run-id", "r-scheduled"]
    assert main(command) == 0
    params = registry.metadata(registry.versions()[-1])["params"]
    assert (params["n_estimators"], params["max_depth"], params["calibration_folds"]) == (30, 5, 3)
    assert registry.run("r-scheduled")["status"] == "succeeded"


@pytest.mark.gcs
def test_training_with_both_roots_on_cloud_storage(customer_file, gcs_bucket) -> None:
    roots = {"data": f"gs://{gcs_bucket}/data", "models": f"gs://{gcs_bucket}"}
    assert train(customer_file, roots) == 0
    registry = Registry(open_storage(roots["models"]))
    model, _ = registry.load(registry.champion()["version"])
    one_carat_ideal_e_vs1 = np.array([[1.0, 4, 5, 4, 61.5, 57, 6.4, 6.43, 3.95]])
    assert 3000 < model.predict(one_carat_ideal_e_vs1)[0] < 15000
    assert open_storage(roots["data"]).exists("quarantine/customer.report.json")


def test_a_champion_whose_mape_is_no_figure_is_replaced(
    customer_file, roots, registry, capsys
) -> None:
    """A champion recorded before prices were checked, with an infinite cross-validated MAPE,
    is no figure to gate on: the next measured model replaces it."""
    assert train(customer_file, roots) == 0
    version = registry.champion()["version"]
    key = f"models/{version}/metadata.json"
    metadata = json.loads(registry.storage.read(key))
    metadata["metrics"]["cross_validation"]["mape"] = float("inf")
    registry.storage.write(key, json.dumps(metadata).encode())
    assert train(customer_file, roots) == 0
    run = registry.run(registry.metadata(registry.champion()["version"])["run_id"])
    assert run["gate"]["decision"] == "promoted"
    assert run["gate"]["reason"] == (
        f"the champion {version} cannot be used (its cross-validated MAPE is inf, not a figure)"
    )


@pytest.mark.parametrize("registered", ["now", "before fingerprints were arrays"])
def test_the_gate_compares_on_the_held_out_stones_new_to_the_champion(
    registered, public_csv, roots, registry, tmp_path
) -> None:
    """Of a file that adds 1,000 stones, exactly those in the hold-out are compared on, whatever
    format the champion's training rows were registered in."""
    lines = public_csv.splitlines()
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_bytes(b"\n".join(lines[:3001]) + b"\n")
    second.write_bytes(b"\n".join(lines[:4001]) + b"\n")
    assert train(first, roots) == 0
    champion = registry.champion()["version"]
    if registered != "now":
        register_rows_as_before(registry, champion, first.read_bytes())

    assert train(second, roots) == 0
    gate = registry.run(registry.metadata(registry.versions()[-1])["run_id"])["gate"]
    records = read_records(second.read_bytes()).accepted
    X, price = feature_matrix(records), records["price"].to_numpy(float)
    split = evaluation_split(fingerprints(records), X[:, 0])
    new = split.holdout[split.holdout >= len(read_records(first.read_bytes()).accepted)]
    assert f"on {len(new)} held-out stones neither model trained on" in gate["reason"]
    model, _ = registry.load(champion)
    assert gate["champion_mape"] == metrics(price[new], model.predict(X[new]))["mape"]


def register_rows_as_before(registry: Registry, version: str, data: bytes) -> None:
    """Rewrite a version's training rows in the format of the versions registered before."""
    stones = fingerprints(read_records(data).accepted).tolist()
    rows = json.dumps([f"{stone:016x}" for stone in stones]).encode()
    metadata = registry.metadata(version)
    del metadata["artifacts"]["training_rows.npy"]
    metadata["artifacts"]["training_rows.json"] = {"sha256": sha256(rows), "bytes": len(rows)}
    registry.storage.write(f"models/{version}/training_rows.json", rows)
    registry.storage.write(f"models/{version}/metadata.json", json.dumps(metadata).encode())


def test_a_stone_of_an_earlier_file_is_quarantined_as_its_duplicate(
    public_csv, roots, registry, tmp_path
) -> None:
    lines = public_csv.splitlines()
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_bytes(b"\n".join(lines[:1001]) + b"\n")
    second.write_bytes(b"\n".join([lines[0], *lines[1001:1500], lines[7]]) + b"\n")
    command = ["train", str(first), str(second), "--data-root", roots["data"]]
    assert main([*command, "--models-root", roots["models"], *FAST]) == 0
    data = open_storage(roots["data"])
    rejected = pd.read_csv(pd.io.common.BytesIO(data.read("quarantine/second.rejected.csv")))
    own = read_records(second.read_bytes()).rejected
    duplicate = rejected[~rejected["line"].isin(own["line"])]
    assert list(duplicate["line"]) == [501]
    assert list(duplicate["reason"]) == ["row: exact duplicate of first.csv line 8"]
    lineage = registry.metadata(registry.versions()[-1])["lineage"]
    quarantined = len(read_records(first.read_bytes()).rejected) + len(own) + 1
    assert lineage["rows_rejected"] == quarantined


def test_a_large_inventory_is_cross_validated_on_its_sample(
    public_csv, roots, registry, tmp_path, monkeypatch, capsys
) -> None:
    """Beyond the sample's size the cross-validation runs on the sample alone; the run says on
    how many of how many training stones, with its MAPE's standard error."""
    monkeypatch.setattr("training.sampling.EVALUATION_SAMPLE", 600)
    data = tmp_path / "stones.csv"
    data.write_bytes(b"\n".join(public_csv.splitlines()[:3001]) + b"\n")
    capsys.readouterr()
    assert train(data, roots) == 0
    metadata = registry.metadata(registry.versions()[-1])
    cv, holdout = metadata["metrics"]["cross_validation"], metadata["metrics"]["holdout"]
    training_stones = metadata["lineage"]["rows_accepted"] - holdout["n"]
    assert cv["n"] == 600
    said = capsys.readouterr().out
    assert re.search(rf"CV MAPE [0-9.]+% ± 0\.[0-9]+ on 600 of {training_stones} ", said)
