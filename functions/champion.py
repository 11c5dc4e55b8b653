"""The champion model of one function instance: loaded once, reloaded when champion.json
changes (checked at most every `ttl` seconds, so a price costs no storage round trip)."""

from __future__ import annotations

import logging
import threading
import time

from training.model import PriceModel
from training.registry import Registry

log = logging.getLogger("diamonds.champion")


class NoChampion(LookupError):
    """No model has been promoted yet."""


class Champion:
    def __init__(self, registry: Registry, ttl: float = 10.0) -> None:
        self.registry, self.ttl = registry, ttl
        self.version: str | None = None
        self.model: PriceModel | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> tuple[str, PriceModel]:
        """The serving (version, model). A champion that fails to load (e.g. a checksum
        mismatch) is refused and the previous model keeps serving."""
        if time.monotonic() - self._checked >= self.ttl:
            with self._lock:
                if time.monotonic() - self._checked >= self.ttl:
                    self._refresh()
        if self.model is None or self.version is None:
            raise NoChampion("no model has been trained and promoted yet")
        return self.version, self.model

    def _refresh(self) -> None:
        self._checked = time.monotonic()
        try:
            record = self.registry.champion()
            if record is None or record["version"] == self.version:
                return
            model, _ = self.registry.load(record["version"])
        except Exception:
            log.exception("could not load the champion; the current model keeps serving")
            return
        self.version, self.model = record["version"], model
        log.info("serving model %s", self.version)
