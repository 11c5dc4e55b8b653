"""The champion model of one function instance: loaded once, reloaded when champion.json
changes (checked at most every `ttl` seconds, so a price costs no storage round trip).

A loaded model prices at once. Its trees are compiled into Python for the one-stone fast path
(twice as fast as NumPy's walk on one row) by a background thread, `COMPILE_DELAY` seconds
later: compiling takes tens of milliseconds, which the requests waiting for the model to load,
the first price of a cold start among them, would otherwise share."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from training.model import PriceModel
from training.registry import NoChampion, Registry

log = logging.getLogger("diamonds.champion")

COMPILE_DELAY = 0.1


class Champion:
    def __init__(
        self,
        registry: Registry,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        compile_delay: float = COMPILE_DELAY,
    ) -> None:
        self.registry, self.ttl, self._clock = registry, ttl, clock
        self.compile_delay = compile_delay
        self._serving: tuple[str, PriceModel] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> tuple[str, PriceModel]:
        """The serving (version, model). A champion that fails to load (e.g. a checksum
        mismatch) is refused and the previous model keeps serving. Requests that arrive while
        the first model loads wait for it."""
        if self._stale():
            with self._lock:
                if self._stale():
                    self._refresh()
        serving = self._serving
        if serving is None:
            raise NoChampion("no model has been trained and promoted yet")
        return serving

    def _refresh(self) -> None:
        try:
            record = self.registry.champion()
            current = self._serving[0] if self._serving else None
            if record is not None and record["version"] != current:
                model, _ = self.registry.load(record["version"])
                compiler = threading.Timer(self.compile_delay, model.forest.compile_rows)
                compiler.daemon = True
                compiler.start()
                self._serving = (record["version"], model)
                log.info("serving model %s", record["version"])
        except Exception:
            log.exception("could not load the champion; the current model keeps serving")
        finally:
            self._checked = self._clock()

    def fresh(self) -> bool:
        """A model is loaded and `get` will not look at storage."""
        return not self._stale()

    def _stale(self) -> bool:
        return self._serving is None or self._clock() - self._checked >= self.ttl
