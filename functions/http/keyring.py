"""The partners' keys as one instance holds them: loaded from the database on first use, then
looked at again every few seconds by a background thread, which reloads them when a key or a
partner has changed (issued, rotated, revoked, deleted). A revoked key thus stops on every
instance within REFRESH_SECONDS plus the time of one reload; expiry is checked per request.

The same look refreshes each partner's stones of the month, for its quota
(functions/http/limits.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from functions.http.keys import StoredKey

log = logging.getLogger("diamonds.keys")
REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class Source:
    """What the keyring reads: a cheap mark that changes whenever a key or partner does,
    every key of a partner not deleted, and the stones priced this month per partner."""

    mark: Callable[[], Hashable]
    keys: Callable[[], dict[str, StoredKey]]
    month: Callable[[str], dict[str, int]]


class CachedKeyring:
    def __init__(
        self,
        source: Source,
        month: Callable[[], str],
        counted: Callable[[str, dict[str, int]], None],
        refresh: float = REFRESH_SECONDS,
    ) -> None:
        self._source, self._month, self._counted = source, month, counted
        self.refresh = refresh
        self._keys: dict[str, StoredKey] | None = None
        self._mark: Hashable = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def find(self, key_id: str) -> StoredKey | None:
        """The key, if a partner holds it. An id not known here may be a key issued since the
        last look: the mark (two indexed maxima) is read again then, so a new key works at
        once. Made-up ids are bounded by the limit on bad keys per address."""
        if self._keys is None:
            self._load()
        found = self._keys.get(key_id)  # type: ignore[union-attr]
        if found is None:
            with self._lock:
                if self._source.mark() != self._mark:
                    self.reload()
            found = self._keys.get(key_id)  # type: ignore[union-attr]
        return found

    def as_read(self) -> ReadKeys | None:
        """The keys as last read, which finding one never reads again (None until they were
        read): for a caller that must not wait for the database."""
        keys = self._keys
        return None if keys is None else ReadKeys(keys)

    def _load(self) -> None:
        with self._lock:
            if self._keys is None:
                self.reload()
                self._thread = threading.Thread(target=self._run, name="keyring", daemon=True)
                self._thread.start()

    def changed(self) -> None:
        """A key or partner was changed by this instance: see it now, not at the next look."""
        if self._keys is not None:
            self.reload()

    def reload(self) -> None:
        """Read the keys and the month's counts now."""
        mark = self._source.mark()
        self._keys, self._mark = self._source.keys(), mark
        month = self._month()
        self._counted(month, self._source.month(month))

    def _run(self) -> None:
        while True:
            time.sleep(self.refresh)
            try:
                if self._source.mark() != self._mark:
                    self.reload()
                else:
                    month = self._month()
                    self._counted(month, self._source.month(month))
            except Exception:
                log.exception("could not refresh the partners' keys; the last ones stay")


@dataclass(frozen=True)
class ReadKeys:
    """Keys as they were read: an id not among them is not found, and nothing is read again."""

    keys: dict[str, StoredKey]

    def find(self, key_id: str) -> StoredKey | None:
        return self.keys.get(key_id)

    def as_read(self) -> ReadKeys:
        return self
