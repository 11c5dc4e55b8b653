"""The storage contract, checked identically on a local folder and on GCS (the emulator)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from training.storage import (
    GCSStorage,
    LocalStorage,
    NotFound,
    Storage,
    open_storage,
    split_uri,
)

GCS = pytest.mark.gcs
BAD_KEYS = ["../x", "/etc/passwd", "a/../../b", "a\\b", "", "a/./b", "a//b", "a/", "nul\0", ".x"]


def test_write_read_exists(storage: Storage) -> None:
    assert not storage.exists("models/v1/metadata.json")
    storage.write("models/v1/metadata.json", b"{}")
    assert storage.exists("models/v1/metadata.json")
    assert storage.read("models/v1/metadata.json") == b"{}"
    assert not storage.exists("models/v1")
    storage.write("models/v1/metadata.json", b"\x00binary\xff")
    assert storage.read("models/v1/metadata.json") == b"\x00binary\xff"


def test_missing_key_raises_not_found(storage: Storage) -> None:
    with pytest.raises(NotFound) as caught:
        storage.read("missing/a.json")
    assert caught.value.key == "missing/a.json"
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(NotFound):
        storage.read_with_token("missing/a.json")


def test_list_is_recursive_sorted_and_relative(storage: Storage) -> None:
    keys = ["incoming/b.csv", "incoming/a.csv", "incoming/sub/c.csv", "models/v1/m.json"]
    for key in [*keys, "champion.json"]:
        storage.write(key, b"x")
    assert storage.write_if_unchanged("runs/r1.json", b"{}", None)

    assert storage.list("incoming/") == ["incoming/a.csv", "incoming/b.csv", "incoming/sub/c.csv"]
    assert storage.list("incoming") == storage.list("incoming/")
    assert storage.list("incoming/a") == ["incoming/a.csv"]
    assert storage.list("models/v1/") == ["models/v1/m.json"]
    assert storage.list("nothing/") == []
    assert storage.list() == sorted([*keys, "champion.json", "runs/r1.json"])


def test_url_for_round_trips_through_split_uri(storage: Storage) -> None:
    storage.write("incoming/a.csv", b"carat\n")
    url = storage.url_for("incoming/a.csv")
    assert url == f"{storage.uri}/incoming/a.csv"
    folder, name = split_uri(url)
    assert name == "a.csv"
    assert folder.uri == f"{storage.uri}/incoming"
    assert folder.read(name) == b"carat\n"


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_cannot_escape_the_root(storage: Storage, key: str, tmp_path: Path) -> None:
    operations = [
        lambda: storage.read(key),
        lambda: storage.write(key, b"x"),
        lambda: storage.exists(key),
        lambda: storage.url_for(key),
        lambda: storage.read_with_token(key),
        lambda: storage.write_if_unchanged(key, b"x", None),
    ]
    for operation in operations:
        with pytest.raises(ValueError, match="invalid storage key"):
            operation()
    assert storage.list() == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("prefix", ["../", "..", "/", "/etc", "a/../../", "a\\b", "a//", "nul\0"])
def test_list_rejects_bad_prefixes(storage: Storage, prefix: str) -> None:
    with pytest.raises(ValueError):
        storage.list(prefix)


def test_lock_suffix_is_reserved(storage: Storage) -> None:
    with pytest.raises(ValueError):
        storage.write("champion.json.lock", b"x")


def test_create_only_with_none_token(storage: Storage) -> None:
    assert storage.write_if_unchanged("champion.json", b"first", None)
    assert not storage.write_if_unchanged("champion.json", b"second", None)
    assert storage.read("champion.json") == b"first"


def test_swap_with_current_token_succeeds_and_stale_token_fails(storage: Storage) -> None:
    storage.write("champion.json", b"v1")
    _, stale = storage.read_with_token("champion.json")
    assert storage.write_if_unchanged("champion.json", b"v2", stale)

    data, current = storage.read_with_token("champion.json")
    assert (data, current != stale) == (b"v2", True)
    assert not storage.write_if_unchanged("champion.json", b"v3", stale)
    assert storage.read("champion.json") == b"v2"
    assert storage.write_if_unchanged("champion.json", b"v3", current)
    assert storage.read("champion.json") == b"v3"


def test_plain_write_changes_the_token(storage: Storage) -> None:
    storage.write("champion.json", b"v1")
    _, token = storage.read_with_token("champion.json")
    storage.write("champion.json", b"v2")
    assert not storage.write_if_unchanged("champion.json", b"v3", token)


def test_concurrent_swaps_have_exactly_one_winner(storage: Storage) -> None:
    storage.write("champion.json", b"initial")
    contenders = 8
    everyone_has_read = threading.Barrier(contenders, timeout=30)
    wins: list[bytes] = []

    def contend(i: int) -> None:
        mine = open_storage(storage.uri)
        _, token = mine.read_with_token("champion.json")
        everyone_has_read.wait()
        if mine.write_if_unchanged("champion.json", f"run {i}".encode(), token):
            wins.append(f"run {i}".encode())

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(wins) == 1
    assert storage.read("champion.json") == wins[0]


def test_objects_carry_generations_that_change_with_the_content(storage: Storage) -> None:
    storage.write("incoming/a.csv", b"first")
    storage.write("incoming/sub/b.csv", b"bb")
    storage.write("models/m.json", b"{}")
    listed = storage.objects("incoming/")
    assert [(o.key, o.size) for o in listed] == [("incoming/a.csv", 5), ("incoming/sub/b.csv", 2)]
    first = listed[0]
    assert storage.read_generation("incoming/a.csv", first.generation) == b"first"

    time.sleep(0.01)
    storage.write("incoming/a.csv", b"second")
    (second,) = [o for o in storage.objects("incoming/") if o.key == "incoming/a.csv"]
    assert second.generation != first.generation
    assert storage.read_generation("incoming/a.csv", second.generation) == b"second"
    with pytest.raises(NotFound):
        storage.read_generation("incoming/missing.csv", second.generation)
    for stale in (first.generation, "12", "not-a-generation"):
        with pytest.raises(NotFound):
            storage.read_generation("incoming/a.csv", stale)


def test_events_locate_their_objects(storage: Storage) -> None:
    bucket, name = storage.location("incoming/a.csv")
    assert storage.key_of(bucket, name) == "incoming/a.csv"
    assert storage.key_of(bucket + "x", name) is None
    assert storage.key_of(bucket, "../" + name) is None
    if isinstance(storage, GCSStorage):
        assert name == "some/prefix/incoming/a.csv"
        assert storage.key_of(bucket, "incoming/a.csv") is None
    else:
        assert (bucket, name) == (storage.uri, "incoming/a.csv")


def test_local_write_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("a/b/c.json", b"1")
    assert storage.write_if_unchanged("a/b/c.json", b"2", storage.read_with_token("a/b/c.json")[1])
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["c.json", "c.json.lock"]
    assert storage.list() == ["a/b/c.json"]


def test_open_local_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_uri = open_storage(tmp_path.as_uri())
    assert isinstance(by_uri, LocalStorage)
    assert by_uri.uri == tmp_path.as_uri()
    assert open_storage(str(tmp_path)).uri == tmp_path.as_uri()
    monkeypatch.chdir(tmp_path)
    relative = open_storage(".diamonds/data")
    assert relative.uri == (tmp_path / ".diamonds" / "data").as_uri()
    relative.write("incoming/a.csv", b"x")
    assert (tmp_path / ".diamonds" / "data" / "incoming" / "a.csv").read_bytes() == b"x"


def test_local_uri_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "with space"
    storage = open_storage(folder.as_uri())
    storage.write("k", b"x")
    assert (folder / "k").read_bytes() == b"x"
    assert split_uri(storage.url_for("k"))[0].read("k") == b"x"


@GCS
def test_open_gcs_storage(gcs_bucket: str) -> None:
    root = open_storage(f"gs://{gcs_bucket}")
    assert isinstance(root, GCSStorage)
    assert root.uri == f"gs://{gcs_bucket}"
    nested = open_storage(f"gs://{gcs_bucket}/models/")
    assert nested.uri == f"gs://{gcs_bucket}/models"
    nested.write("champion.json", b"{}")
    assert root.list() == ["models/champion.json"]
    assert nested.url_for("champion.json") == f"gs://{gcs_bucket}/models/champion.json"


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/x",
        "http://example.com/x",
        "gs://",
        "gs:///x",
        "gs:/bucket",
        "gs://Not_A_Bucket",
        "gs://bucket/../x",
        "file://relative/path",
        "file:relative",
    ],
)
def test_open_storage_rejects_bad_uris(uri: str) -> None:
    with pytest.raises(ValueError) as caught:
        open_storage(uri)
    assert repr(uri) in str(caught.value)


def test_open_storage_rejects_empty_uri() -> None:
    with pytest.raises(ValueError):
        open_storage("")


def test_split_local_uri_and_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.csv").write_bytes(b"x")
    for given in [(tmp_path / "a.csv").as_uri(), str(tmp_path / "a.csv")]:
        folder, name = split_uri(given)
        assert (folder.uri, name) == (tmp_path.as_uri(), "a.csv")
        assert folder.read(name) == b"x"
    monkeypatch.chdir(tmp_path)
    assert split_uri("a.csv")[0].uri == tmp_path.as_uri()


@GCS
def test_split_gcs_uri(gcs_bucket: str) -> None:
    open_storage(f"gs://{gcs_bucket}").write("prefix/incoming/a.csv", b"x")
    folder, name = split_uri(f"gs://{gcs_bucket}/prefix/incoming/a.csv")
    assert (folder.uri, name) == (f"gs://{gcs_bucket}/prefix/incoming", "a.csv")
    assert folder.read(name) == b"x"
    top, name = split_uri(f"gs://{gcs_bucket}/a.csv")
    assert (top.uri, name) == (f"gs://{gcs_bucket}", "a.csv")


@pytest.mark.parametrize("uri", ["gs://bucket", "gs://bucket/", "file:///", "/"])
def test_split_uri_needs_a_file_name(uri: str) -> None:
    with pytest.raises(ValueError):
        split_uri(uri)


def test_importing_storage_does_not_import_google_cloud() -> None:
    code = "import sys, training.storage; sys.exit('google.cloud.storage' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
