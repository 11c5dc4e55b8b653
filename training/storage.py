"""Where data and models live: a local folder or a GCS bucket, behind one small interface.

A storage is opened from a URI (`file:///abs/path`, `gs://bucket[/prefix]` or a plain path) and
addresses objects by keys relative to that root, such as `models/v3/metadata.json`. Keys often
come from event payloads, so every key is validated and can never point outside the root.

`read_with_token` + `write_if_unchanged` form a compare-and-swap, used to replace
`champion.json` safely when two training runs finish at the same time.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from training.checksums import sha256

_LOCK_SUFFIX = ".lock"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]*[a-z0-9]")
_USAGE = "use file:///abs/path, gs://bucket[/prefix] or a local path"
READ_RETRY_SECONDS = 20.0


class NotFound(FileNotFoundError):
    """The key does not exist in the storage."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no such key: {key}")
        self.key = key


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key, else raise ValueError.

    Segments may not be empty or start with "." (this rules out "." and "..", and keeps temporary
    files out of the key space), and ".lock" is reserved for LocalStorage's lock files.
    """
    if (
        not isinstance(key, str)
        or not key
        or "\\" in key
        or "\0" in key
        or key.endswith(_LOCK_SUFFIX)
        or any(not part or part.startswith(".") for part in key.split("/"))
    ):
        raise ValueError(f"invalid storage key: {key!r}")
    return key


def _is_key(key: str) -> bool:
    try:
        check_key(key)
    except ValueError:
        return False
    return True


def _check_prefix(prefix: str) -> str:
    """A list prefix is "" (everything) or a key, optionally ending with "/"."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


@dataclass(frozen=True)
class StoredObject:
    """One object as a storage event names it: its key, its generation and its size."""

    key: str
    generation: str
    """Changes whenever the object is replaced (GCS: the object generation; a folder: the
    file's modification time in nanoseconds)."""
    size: int


@runtime_checkable
class Storage(Protocol):
    """What LocalStorage and GCSStorage both provide. Keys are relative and use "/"."""

    uri: str

    def url_for(self, key: str) -> str: ...
    def read(self, key: str) -> bytes: ...
    def write(self, key: str, data: bytes) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> list[str]:
        """All keys starting with `prefix`, sorted, recursively."""
        ...

    def read_with_token(self, key: str) -> tuple[bytes, str]:
        """The content and a token identifying this version, for `write_if_unchanged`."""
        ...

    def write_if_unchanged(self, key: str, data: bytes, token: str | None) -> bool:
        """Write only if the key is still at version `token` (None: only if it does not exist).

        Return False, without writing, if someone else changed it since.
        """
        ...

    def objects(self, prefix: str = "") -> list[StoredObject]:
        """The objects whose keys start with `prefix`, with their generations, sorted by key."""
        ...

    def read_generation(self, key: str, generation: str) -> bytes:
        """The content of one generation of an object; NotFound if it was replaced or deleted."""
        ...

    def location(self, key: str) -> tuple[str, str]:
        """(bucket, object name) of a key, as a storage event names the object."""
        ...

    def key_of(self, bucket: str, name: str) -> str | None:
        """The key of the object an event names, or None when it lies outside this root."""
        ...


class LocalStorage:
    """A folder. Writes are atomic: readers see the old or the new content, never a mix.

    The token is the sha256 of the content, so a key changed and then changed back still
    matches; that is harmless for content that is compared, not counted.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.uri = self.root.as_uri()

    def __repr__(self) -> str:
        return f"LocalStorage({self.uri!r})"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(key) from None

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        _check_prefix(prefix)
        folder = self.root / prefix.rpartition("/")[0]
        keys = (p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and _is_key(k))

    def read_with_token(self, key: str) -> tuple[bytes, str]:
        data = self.read(key)
        return data, sha256(data)

    def write_if_unchanged(self, key: str, data: bytes, token: str | None) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + _LOCK_SUFFIX), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current: str | None = self.read_with_token(key)[1]
            except NotFound:
                current = None
            if current != token:
                return False
            self.write(key, data)
            return True

    def objects(self, prefix: str = "") -> list[StoredObject]:
        found = []
        for key in self.list(prefix):
            try:
                status = self._path(key).stat()
            except FileNotFoundError:
                continue
            found.append(StoredObject(key, str(status.st_mtime_ns), status.st_size))
        return found

    def read_generation(self, key: str, generation: str) -> bytes:
        path = self._path(key)
        try:
            before = path.stat().st_mtime_ns
            data = path.read_bytes()
            after = path.stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(key) from None
        if str(before) != generation or after != before:
            raise NotFound(f"{key}#{generation}")
        return data

    def location(self, key: str) -> tuple[str, str]:
        """A folder's "bucket" is its URI, so that events name the folder unambiguously."""
        return self.uri, check_key(key)

    def key_of(self, bucket: str, name: str) -> str | None:
        return name if bucket == self.uri and _is_key(name) else None


class GCSStorage:
    """A bucket, or a folder of one. The token is the object's generation.

    google-cloud-storage is imported only when a GCSStorage is created, so that code paths that
    never touch GCS start fast. The default client honours STORAGE_EMULATOR_HOST.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"invalid GCS bucket name: {bucket!r}")
        prefix = prefix.strip("/")
        self.prefix = check_key(prefix) + "/" if prefix else ""
        self.uri = f"gs://{bucket}/{self.prefix}".removesuffix("/")
        if client is None:
            from google.cloud import storage

            client = storage.Client()
        self._bucket = client.bucket(bucket)

    def __repr__(self) -> str:
        return f"GCSStorage({self.uri!r})"

    def _blob(self, key: str) -> Any:
        return self._bucket.blob(self.prefix + check_key(key))

    def url_for(self, key: str) -> str:
        return f"gs://{self._bucket.name}/{self.prefix}{check_key(key)}"

    def read(self, key: str) -> bytes:
        return self.read_with_token(key)[0]

    def write(self, key: str, data: bytes) -> None:
        self._blob(key).upload_from_string(data)

    def exists(self, key: str) -> bool:
        return self._blob(key).exists()

    def list(self, prefix: str = "") -> list[str]:
        _check_prefix(prefix)
        names = (b.name for b in self._bucket.list_blobs(prefix=self.prefix + prefix))
        return sorted(k for k in (n[len(self.prefix) :] for n in names) if _is_key(k))

    def read_with_token(self, key: str) -> tuple[bytes, str]:
        from google.api_core.exceptions import NotFound as GCSNotFound

        blob = self._blob(key)
        try:
            data = blob.download_as_bytes()
        except GCSNotFound:
            raise NotFound(key) from None
        # The generation comes from the same response as the data, so the two always match.
        return data, str(blob.generation)

    def write_if_unchanged(self, key: str, data: bytes, token: str | None) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        generation = 0 if token is None else int(token)
        try:
            self._blob(key).upload_from_string(data, if_generation_match=generation)
        except PreconditionFailed:
            return False
        return True

    def objects(self, prefix: str = "") -> list[StoredObject]:
        _check_prefix(prefix)
        found = []
        for blob in self._bucket.list_blobs(prefix=self.prefix + prefix):
            key = blob.name[len(self.prefix) :]
            if _is_key(key):
                found.append(StoredObject(key, str(blob.generation), int(blob.size or 0)))
        return sorted(found, key=lambda o: o.key)

    def read_generation(self, key: str, generation: str) -> bytes:
        """Retried for at most READ_RETRY_SECONDS on transient errors: its caller (ingestion)
        would rather fail soon and be delivered the event again."""
        from google.api_core.exceptions import NotFound as GCSNotFound
        from google.cloud.storage.retry import DEFAULT_RETRY

        if not generation.isdigit():
            raise NotFound(f"{key}#{generation}")
        blob = self._bucket.blob(self.prefix + check_key(key), generation=int(generation))
        try:
            return blob.download_as_bytes(retry=DEFAULT_RETRY.with_timeout(READ_RETRY_SECONDS))
        except GCSNotFound:
            raise NotFound(f"{key}#{generation}") from None

    def location(self, key: str) -> tuple[str, str]:
        return self._bucket.name, self.prefix + check_key(key)

    def key_of(self, bucket: str, name: str) -> str | None:
        if bucket != self._bucket.name or not name.startswith(self.prefix):
            return None
        key = name[len(self.prefix) :]
        return key if _is_key(key) else None


def _local_path(uri: str) -> Path:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise ValueError(f"file URI must be absolute (file:///abs/path): {uri!r}")
    return Path(unquote(parts.path))


def _parse(uri: str) -> tuple[str, str, str]:
    """("gs", bucket, path inside it) or ("file", absolute path, "")."""
    if not uri:
        raise ValueError(f"empty storage URI: {_USAGE}")
    scheme = urlsplit(uri).scheme
    if scheme == "gs" and uri.startswith("gs://"):
        bucket, _, path = uri.removeprefix("gs://").partition("/")
        path = path.strip("/")
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"no valid bucket name in storage URI {uri!r}: {_USAGE}")
        if path and not _is_key(path):
            raise ValueError(f"invalid path in storage URI {uri!r}")
        return "gs", bucket, path
    if scheme == "file":
        return "file", str(_local_path(uri)), ""
    if scheme:
        raise ValueError(f"unsupported storage URI {uri!r}: {_USAGE}")
    return "file", str(Path(uri).resolve()), ""


def check_uri(uri: str) -> str:
    """`uri` if it names a storage root this module can open, else ValueError saying why."""
    _parse(uri)
    return uri


def open_storage(uri: str) -> Storage:
    """The storage rooted at `uri`."""
    kind, where, path = _parse(uri)
    return GCSStorage(where, path) if kind == "gs" else LocalStorage(where)


def split_uri(uri: str) -> tuple[Storage, str]:
    """(storage rooted at the parent folder, file name) for the URI or path of one file."""
    kind, where, path = _parse(uri)
    if kind == "gs":
        folder, _, name = path.rpartition("/")
    else:
        folder, name = str(Path(where).parent), Path(where).name
    if not name:
        raise ValueError(f"storage URI does not name a file: {uri!r}")
    storage = GCSStorage(where, folder) if kind == "gs" else LocalStorage(folder)
    return storage, check_key(name)
