"""Snapshots of the inventory in parts (training/snapshots.py): read as the one CSV file they
make, each part written and validated once."""

import numpy as np
import pandas as pd
import pytest

from training import snapshots
from training.checksums import sha256
from training.fingerprints import fingerprints
from training.job import TrainingRun
from training.registry import Registry
from training.snapshots import Part, manifest_of, read_snapshot, write_snapshot
from training.storage import LocalStorage, open_storage
from training.validation import UnusableFile, read_records

from ..training_fixtures import FAST


def parts_of(data: bytes, rows_per_part: int) -> list[Part]:
    """A CSV file cut into parts of so many rows, each with the header, named by its content
    (the inventory names them by its stones' fingerprints)."""
    header, *rows = data.splitlines(keepends=True)
    parts = []
    for start in range(0, len(rows), rows_per_part):
        content = header + b"".join(rows[start : start + rows_per_part])
        rows_in = len(rows[start : start + rows_per_part])
        parts.append(Part(sha256(content), rows_in, lambda content=content: content))
    return parts


def fingerprinted(accepted: pd.DataFrame) -> pd.DataFrame:
    """Accepted stones as a snapshot gives them: with their fingerprints."""
    return accepted.assign(fingerprint=fingerprints(accepted))


def stored_parts(storage: LocalStorage) -> list[str]:
    return storage.list("snapshots/parts/")


def read(storage: LocalStorage, key: str, said: list[str] | None = None):
    folder, name = open_storage(storage.url_for("snapshots")), key.removeprefix("snapshots/")
    manifest = manifest_of(folder.read(name))
    return read_snapshot(folder, manifest, (said if said is not None else []).append)


def test_a_snapshot_reads_as_the_one_file_its_parts_make(tmp_path, customer_csv) -> None:
    storage = LocalStorage(tmp_path)
    key, stones = write_snapshot(storage, parts_of(customer_csv, 1000))
    assert stones == 5000 and len(stored_parts(storage)) == 5
    whole, snapshot = read_records(customer_csv), read(storage, key)

    assert snapshot.rows_read == whole.rows_read == 5000
    pd.testing.assert_frame_equal(snapshot.accepted, fingerprinted(whole.accepted))
    # the customer's duplicate (line 4945 of line 2431) lies in another part than its twin
    expected = whole.rejected[["line", "reason"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(snapshot.rejected[["line", "reason"]], expected)
    assert "row: exact duplicate of line 2431" in set(snapshot.rejected["reason"])
    assert snapshot.report() == {**whole.report(), "ignored_columns": []}


def test_only_a_changed_part_is_written_and_validated_again(tmp_path, public_csv) -> None:
    storage = LocalStorage(tmp_path)
    data = b"\n".join(public_csv.splitlines()[:3001]) + b"\n"
    first, _ = write_snapshot(storage, parts_of(data, 1000))
    said: list[str] = []
    before = read(storage, first, said)
    assert said == ["[validate] 3 part(s), 3 validated now, the others as before"]

    lines = data.splitlines()
    lines[-1] = lines[-1].replace(lines[-1].split(b",")[-4], b"9999")  # the last stone's price
    changed = b"\n".join(lines) + b"\n"
    second, _ = write_snapshot(storage, parts_of(changed, 1000))
    assert len(stored_parts(storage)) == 4
    said.clear()
    after = read(storage, second, said)
    assert said == ["[validate] 3 part(s), 1 validated now, the others as before"]
    pd.testing.assert_frame_equal(after.accepted, fingerprinted(read_records(changed).accepted))
    assert after.accepted["price"].iloc[-1] == 9999 != before.accepted["price"].iloc[-1]


def test_new_rules_validate_every_part_again_and_a_broken_cache_is_passed_over(
    tmp_path, public_csv, monkeypatch
) -> None:
    storage = LocalStorage(tmp_path)
    data = b"\n".join(public_csv.splitlines()[:2001]) + b"\n"
    key, _ = write_snapshot(storage, parts_of(data, 1000))
    expected = read(storage, key).accepted
    [cached, _] = storage.list("snapshots/validated/")
    storage.write(cached, b"not an archive")
    said: list[str] = []
    pd.testing.assert_frame_equal(read(storage, key, said).accepted, expected)
    assert said == ["[validate] 2 part(s), 1 validated now, the others as before"]

    monkeypatch.setattr(snapshots, "rules_digest", lambda: "other-rules")
    said.clear()
    pd.testing.assert_frame_equal(read(storage, key, said).accepted, expected)
    assert said == ["[validate] 2 part(s), 2 validated now, the others as before"]


def test_a_part_missing_makes_the_snapshot_unusable(tmp_path, public_csv) -> None:
    storage = LocalStorage(tmp_path)
    data = b"\n".join(public_csv.splitlines()[:201]) + b"\n"
    key, _ = write_snapshot(storage, parts_of(data, 100))
    (tmp_path / stored_parts(storage)[1]).unlink()
    with pytest.raises(UnusableFile, match="is missing"):
        read(storage, key)


def test_only_a_manifest_is_read_as_a_snapshot() -> None:
    assert manifest_of(b"carat,cut\n1,Ideal\n") is None
    assert manifest_of(b'{"format": "something else"}') is None
    assert manifest_of(b"{not json") is None
    assert manifest_of(b' {"format": "diamonds-snapshot/1", "parts": []}') is not None


@pytest.mark.parametrize(
    "parts",
    [[], [{"key": "parts/a.csv"}], [{"key": "parts/a.csv", "signature": "../x"}], "parts"],
)
def test_a_manifest_that_lists_no_usable_part_is_refused(tmp_path, parts) -> None:
    manifest = {"format": "diamonds-snapshot/1", "parts": parts}
    with pytest.raises(UnusableFile, match=r"no stones|does not list its parts"):
        read_snapshot(LocalStorage(tmp_path), manifest)


def test_a_run_trains_the_same_model_on_a_snapshot_as_on_its_one_file(tmp_path, public_csv) -> None:
    data = b"\n".join(public_csv.splitlines()[:4001]) + b"\n"
    whole = tmp_path / "whole.csv"
    whole.write_bytes(data)
    storage = LocalStorage(tmp_path / "data")
    key, _ = write_snapshot(storage, parts_of(data, 1500))
    models = []
    for source in (whole.as_uri(), storage.url_for(key)):
        root = open_storage((tmp_path / f"models-{len(models)}").as_uri())
        record = TrainingRun(storage, root, params=FAST, log=lambda _: None).run([source])
        model = Registry(root).artifact(record["version"], "model.json")
        models.append((model, record["metrics"]))
    assert models[0] == models[1]
    assert np.isfinite(models[0][1]["cv_mape"])
