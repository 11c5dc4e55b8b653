"""Is the model still right? The drift of the stones priced against the champion's training
stones (functions/drift.py, counted by the database), and the champion's live accuracy: its
MAPE and interval coverage on each ingested file's fresh appraisals, beside its own
cross-validated MAPE.

The reference histograms of a champion are made once, from its training stones, and kept
beside the models (`monitoring/<version>.json` under the MODELS root) and in the instance."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from functions.drift import GRADES, Reference, characteristic, factor_drift
from training.record import CATEGORIES, FEATURES

if TYPE_CHECKING:
    import pandas as pd

    from functions.database import IngestedFiles, PricedStones
    from training.registry import Registry

log = logging.getLogger("diamonds.monitoring")

MAPE_ALERT_RATIO = 1.5
"""Live MAPE past this multiple of the champion's cross-validated MAPE is an alert."""
FOLDER = "monitoring/"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class Monitoring:
    def __init__(self, registry: Registry, priced: PricedStones, ledger: IngestedFiles) -> None:
        self.registry, self.priced, self.ledger = registry, priced, ledger
        self._references: dict[str, Reference] = {}
        self._lock = threading.Lock()

    def reference(self, version: str) -> Reference:
        """The champion `version`'s training stones as histograms: kept, or made now."""
        if version not in self._references:
            with self._lock:
                if version not in self._references:
                    self._references[version] = self._stored_reference(version)
        return self._references[version]

    def _stored_reference(self, version: str) -> Reference:
        from training.storage import NotFound

        key = f"{FOLDER}{version}.json"
        storage = self.registry.storage
        try:
            return Reference.from_dict(json.loads(storage.read(key)))
        except NotFound:
            pass
        reference = make_reference(self.registry, version)
        storage.write(key, json.dumps(reference.to_dict()).encode())
        return reference

    def drift(self, start: datetime, end: datetime, partner: str | None = None) -> dict:
        """The drift of the stones priced in [start, end) against the champion's training
        stones; without a champion, only what was priced and refused."""
        summary = self.priced.summary(start, end, partner)
        found = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "partner": partner,
            **summary,
            "reference": None,
            "characteristics": [],
            "price": None,
            "factors": [],
        }
        champion = self.registry.champion()
        if champion is None:
            return found
        reference = self.reference(champion["version"])
        live = self.priced.histograms(reference.edges, _GRADE_SIZES, start, end, partner)
        found["reference"] = {"version": reference.version, "stones": reference.stones}
        found["characteristics"] = [characteristic(n, reference, live[n]) for n in FEATURES]
        found["price"] = characteristic("price", reference, live["price"])
        found["factors"] = factor_drift(
            reference, summary["factor_means"], summary["explained_stones"]
        )
        return found

    def daily(self, days: int, partner: str | None = None, today: date | None = None) -> dict:
        """Each characteristic's distance on each of the last `days` days (UTC), today's
        included, with its threshold: the view's series. One query a day: each uses the
        index on the time of pricing, where grouping a month's stones by day had PostgreSQL sort
        them once per characteristic (it cannot know that days and bins are few)."""
        today = today or datetime.now(UTC).date()
        first = today - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = start + timedelta(days=days)
        series = {"start": start.isoformat(), "end": end.isoformat(), "partner": partner}
        champion = self.registry.champion()
        if champion is None:
            return {**series, "reference": None, "days": []}
        reference = self.reference(champion["version"])
        rows = []
        for offset in range(days):
            day = start + timedelta(days=offset)
            live = self.priced.histograms(
                reference.edges, _GRADE_SIZES, day, day + timedelta(days=1), partner
            )
            figures = [characteristic(n, reference, live[n]) for n in (*FEATURES, "price")]
            rows.append(
                {
                    "day": day.date().isoformat(),
                    "stones": sum(live["carat"]),
                    "characteristics": [_brief(figure) for figure in figures],
                }
            )
        reference_of = {"version": reference.version, "stones": reference.stones}
        return {**series, "reference": reference_of, "days": rows}

    def accuracy(self, limit: int = 200) -> dict:
        """The champion's MAPE and coverage on each ingested file's fresh stones, oldest first,
        with the cross-validated MAPE of the model that priced them and whether the live MAPE
        is past MAPE_ALERT_RATIO times it."""
        files = []
        cv: dict[str, float | None] = {}
        for row in self.ledger.scores(limit):
            version = row["champion_version"]
            if version not in cv:
                cv[version] = self._cv_mape(version)
            mape, expected = row["champion_mape"], cv[version]
            files.append(
                {
                    "id": row["id"],
                    "name": row["name"],
                    "scored_at": row["scored_at"],
                    "model_version": version,
                    "stones": row["champion_scored"],
                    "mape": mape,
                    "coverage": row["champion_coverage"],
                    "cv_mape": expected,
                    "alert": None if expected is None else mape > MAPE_ALERT_RATIO * expected,
                }
            )
        champion = self.registry.champion()
        version = champion["version"] if champion else None
        return {
            "champion": version,
            "cv_mape": self._cv_mape(version) if version else None,
            "alert_ratio": MAPE_ALERT_RATIO,
            "files": files,
        }

    def check(self) -> dict:
        """The daily check: the last day's drift and the live accuracy, logged (`log_check`)."""
        found = {"drift": self.drift(*window_bounds("1d", None)), "accuracy": self.accuracy()}
        log_check(found)
        return found

    def _cv_mape(self, version: str) -> float | None:
        from training.registry import UnknownVersion

        try:
            metrics = self.registry.metadata(version).get("metrics", {})
        except (UnknownVersion, ValueError):
            return None
        mape = metrics.get("cross_validation", {}).get("mape")
        return float(mape) if isinstance(mape, int | float) else None


_GRADE_SIZES = {name: len(CATEGORIES[name]) for name in GRADES}


def _brief(figure: dict) -> dict:
    return {key: figure[key] for key in ("name", "js_distance", "psi", "threshold", "crossed")}


def window_bounds(window: str, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) of a window given as hours (`12h`) or days (`30d`) before `end` (now),
    the end held between EARLIEST and LATEST (a window there holds nothing either way)."""
    try:
        end = (end or datetime.now(UTC)).astimezone(UTC)
    except OverflowError:
        end = EARLIEST if end is not None and end.year < EARLIEST.year else LATEST
    end = min(max(end, EARLIEST), LATEST)
    amount, unit = int(window[:-1]), window[-1]
    return end - (timedelta(hours=amount) if unit == "h" else timedelta(days=amount)), end


def training_stones(registry: Registry, version: str) -> pd.DataFrame:
    """The stones `version` was fitted on: its sources' accepted records that its training
    rows hold, each once."""
    import pandas as pd

    from training.fingerprints import fingerprints
    from training.job import read_source
    from training.snapshots import manifest_of, read_snapshot
    from training.validation import read_records

    metadata = registry.metadata(version)
    frames = []
    for description in metadata.get("lineage", {}).get("sources", []):
        source = read_source(description["uri"])
        manifest = manifest_of(source.data)
        result = (
            read_records(source.data)
            if manifest is None
            else read_snapshot(source.storage, manifest, lambda _: None)
        )
        frames.append(result.accepted)
    records = pd.concat(frames, ignore_index=True)
    prints = fingerprints(records)
    seen = registry.training_rows(version, metadata).seen(prints)
    return records[seen & ~pd.Series(prints).duplicated().to_numpy()]


def make_reference(registry: Registry, version: str) -> Reference:
    from training.features import feature_matrix

    model, _ = registry.load(version)
    X = feature_matrix(training_stones(registry, version))
    _, log_factors = model.log_factors(X)
    return Reference.of(version, X, model.predict(X), log_factors)


def log_check(found: dict) -> None:
    """One log line per characteristic (and for the price) of the last day's drift, and one
    for the newest scored file: what the log-based metrics count and the alerts watch."""
    drift = found["drift"]
    figures = [*drift["characteristics"], *([drift["price"]] if drift["price"] else [])]
    if not figures:
        log.warning("drift: no champion, nothing to compare %d stones with", drift["stones"])
    for figure in figures:
        crossed = figure["crossed"]
        distance = figure["js_distance"]
        text = "n/a" if distance is None else f"{distance:.4f}"
        (log.warning if crossed else log.info)(
            "drift %s: Jensen-Shannon %s (threshold %g) over %d stones%s",
            figure["name"],
            text,
            figure["threshold"],
            drift["stones"],
            " — crossed" if crossed else "",
            extra={
                "fields": {
                    "drift": {
                        "characteristic": figure["name"],
                        "js_distance": distance,
                        "psi": figure["psi"],
                        "threshold": figure["threshold"],
                        "crossed": bool(crossed),
                        "stones": drift["stones"],
                        "model_version": (drift["reference"] or {}).get("version"),
                    }
                }
            },
        )
    accuracy = found["accuracy"]
    for scored in accuracy["files"][-1:]:
        (log.warning if scored["alert"] else log.info)(
            "live accuracy: MAPE %.2f%% on %s's fresh stones, cross-validated %s",
            scored["mape"],
            scored["name"],
            "n/a" if scored["cv_mape"] is None else f"{scored['cv_mape']:.2f}%",
            extra={"fields": {"accuracy": {**scored, "alert": bool(scored["alert"])}}},
        )
