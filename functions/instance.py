"""The resources of one function instance (one process), created on first use and shared by
its requests: settings, database, storage, the champion model, the prediction log, the training
schedule and runner, the ingestion ledger, the monitoring.

Nothing is created at import time, so a cold start pays only for what the first request uses:
pricing never waits for the database (its log is written by a background thread).

What an instance makes lives as long as its process, and so does what it imported: each time it
makes something, everything made so far is frozen out of the garbage collector's full
collections (`gc.freeze`). A loaded pricing worker otherwise walks them all (SQLAlchemy's and
Alembic's mostly) in each full collection, holding up the requests it serves meanwhile
(`benchmarks/startup.py` measures the pause; docs/results.md).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import TypeVar

from functions.settings import ServiceSettings

T = TypeVar("T")


class Instance:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._made: dict[str, object] = {}

    @classmethod
    def from_environment(cls) -> Instance:
        """An instance configured by DIAMONDS_* variables; an unusable value stops the process
        at start-up with one line naming the variable, rather than failing requests later."""
        from pydantic import ValidationError

        from functions.logs import configure
        from training.config import settings_problem

        try:
            settings = ServiceSettings.from_environment()
        except ValidationError as exc:
            raise SystemExit(f"diamonds: {settings_problem(exc)}") from None
        configure(settings.log_level)
        return cls(settings)

    def stopping(self) -> None:
        """The process is being stopped: what must outlive it is written now."""
        if self.made("prediction_log"):
            self.prediction_log.stopping()

    def made(self, name: str) -> bool:
        """Whether the resource `name` (a property below) exists: using it will not make it."""
        return name in self._made

    def _once(self, name: str, make: Callable[[], T]) -> T:
        if name not in self._made:
            with self._lock:
                if name not in self._made:
                    self._made[name] = make()
                    gc.freeze()
        return self._made[name]  # type: ignore[return-value]

    @property
    def engine(self):
        """The database, once its schema is found to be the one this code needs (migrating it
        is a release's step, not a function's: SchemaNotReady until then)."""

        def make():
            from functions.database import check_schema, make_engine

            engine = make_engine(self.settings.database_url)
            try:
                check_schema(engine)
            except BaseException:
                engine.dispose()
                raise
            return engine

        return self._once("engine", make)

    @property
    def inventory(self):
        from functions.database import Inventory

        return self._once("inventory", lambda: Inventory(self.engine))

    @property
    def data(self):
        from training.storage import open_storage

        return self._once("data", lambda: open_storage(self.settings.data_root))

    @property
    def registry(self):
        from training.registry import Registry
        from training.storage import open_storage

        return self._once("registry", lambda: Registry(open_storage(self.settings.models_root)))

    @property
    def pricer(self):
        def make():
            from functions.champion import Champion
            from functions.pricer import Pricer

            champion = Champion(self.registry, self.settings.champion_ttl_seconds)
            return Pricer(champion, comparables=lambda *args: self.inventory.comparables(*args))

        return self._once("pricer", make)

    @property
    def prediction_log(self):
        def write(entries: list[dict]) -> None:
            from functions.database import PredictionLog, PricedStones
            from functions.prediction_log import priced_stones

            stones = priced_stones(entries, self._log_factors)
            PredictionLog(self.engine).write_many(entries)
            PricedStones(self.engine).write_many(stones)

        def make():
            from functions.prediction_log import PredictionLogger

            return PredictionLogger(write)

        return self._once("prediction_log", make)

    def _log_factors(self, version: str, X):
        """The serving model's log factors of stones it priced; None for another version's."""
        from training.registry import NoChampion

        try:
            serving, model = self.pricer.champion.get()
        except NoChampion:
            return None
        return model.log_factors(X)[1] if serving == version else None

    @property
    def partners(self):
        from functions.database import Partners

        return self._once("partners", lambda: Partners(self.engine))

    @property
    def usage(self):
        from functions.database import Usage

        return self._once("usage", lambda: Usage(self.engine))

    @property
    def access(self):
        """Keys, limits and usage. The database is read on the first partner's key presented
        and written by the meter's thread: a request with a team key never waits for it."""

        def make():
            from functions.http.access import Access
            from functions.http.keyring import CachedKeyring, Source
            from functions.http.limits import Limits
            from functions.http.metering import Meter

            limits = Limits()
            source = Source(
                mark=lambda: self.partners.mark(),
                keys=lambda: self.partners.stored_keys(),
                month=lambda month: self.usage.month_stones(month),
            )
            keyring = CachedKeyring(source, limits.month, limits.month_counted)
            return Access(keyring, Meter(lambda tallies: self.usage.add(tallies)), limits)

        return self._once("access", make)

    @property
    def idempotent_requests(self):
        from functions.database import IdempotentRequests

        return self._once("idempotent_requests", lambda: IdempotentRequests(self.engine))

    @property
    def ledger(self):
        from functions.database import IngestedFiles

        return self._once("ledger", lambda: IngestedFiles(self.engine))

    @property
    def monitoring(self):
        def make():
            from functions.database import PricedStones
            from functions.monitoring import Monitoring

            return Monitoring(self.registry, PricedStones(self.engine), self.ledger)

        return self._once("monitoring", make)

    @property
    def schedule(self):
        from training.schedule import Schedule

        return self._once("schedule", lambda: Schedule(self.registry))

    @property
    def retraining(self):
        def make():
            from functions.retraining import Retraining

            return Retraining(self.inventory, self.data, self.schedule, self.settings)

        return self._once("retraining", make)
