"""The models function's endpoints: model versions, promotion, training runs, the ingestion
ledger.

Where things are stored (a snapshot's URI, a data file's bucket, a training job's identity) is
shown to callers with a key only: an anonymous caller gets the same documents without them."""

from __future__ import annotations

from werkzeug.wrappers import Response

from functions.http.problems import HttpProblem
from functions.http.responses import json_response
from functions.http.router import Call, Route
from functions.instance import Instance
from functions.payloads.models import (
    ChampionRecord,
    IngestionPage,
    ModelList,
    ModelMetadata,
    ModelVersion,
    Page,
    Promotion,
    Run,
    RunId,
    RunList,
)


def models_routes(instance: Instance) -> list[Route]:
    def list_models(call: Call) -> Response:
        registry = instance.registry
        champion = (registry.champion() or {}).get("version")
        summaries = []
        for version in registry.versions():
            meta = registry.metadata(version)
            holdout = meta.get("metrics", {}).get("holdout", {})
            summaries.append(
                {
                    "version": version,
                    "champion": version == champion,
                    "created_at": meta.get("created_at"),
                    "cv_mape": meta.get("metrics", {}).get("cross_validation", {}).get("mape"),
                    "holdout_mape": holdout.get("mape"),
                    "interval_coverage": holdout.get("coverage"),
                    "rows": meta.get("lineage", {}).get("rows_accepted"),
                }
            )
        return json_response({"champion": champion, "models": summaries})

    def show(call: Call) -> Response:
        from training.registry import UnknownVersion

        version = call.params["version"]
        try:
            meta = instance.registry.metadata(version)
        except (UnknownVersion, ValueError):
            raise HttpProblem(404, "Not found", f"no model version {version}") from None
        champion = (instance.registry.champion() or {}).get("version")
        if call.anonymous:
            lineage = meta.get("lineage", {})
            sources = [_without(s, "uri") for s in lineage.get("sources", [])]
            meta = {**meta, "lineage": {**lineage, "sources": sources}}
        return json_response({**meta, "champion": version == champion})

    def promote(call: Call) -> Response:
        from training.registry import PromotionConflict, UnknownVersion

        version = call.params["version"]
        try:
            record = instance.registry.promote(version, call.body.reason)
        except (UnknownVersion, ValueError):
            raise HttpProblem(404, "Not found", f"no model version {version}") from None
        except PromotionConflict as exc:
            raise HttpProblem(409, "Conflict", str(exc)) from None
        return json_response(record)

    def run(call: Call) -> Response:
        try:
            record = instance.schedule.run(call.params["run_id"])
        except (LookupError, ValueError):
            raise HttpProblem(404, "Not found", f"no run {call.params['run_id']}") from None
        if call.anonymous:
            requests = [_without(r, "snapshot") for r in record.get("requests", [])]
            record = {**_without(record, "snapshot", "job"), "requests": requests}
        return json_response(record)

    def runs(call: Call) -> Response:
        state = instance.schedule.reconcile()
        return json_response(
            {
                "runs": instance.schedule.runs()[-200:],
                "running": (state["current"] or {}).get("run_id"),
                "queued": (state["next"] or {}).get("run_id"),
            }
        )

    def ingestions(call: Call) -> Response:
        items, next_cursor = instance.ledger.list(call.query.limit, call.query.cursor)
        if call.anonymous:
            items = [_without(item, "bucket") for item in items]
        return json_response({"items": items, "next_cursor": next_cursor})

    version = "/v1/models/<version>"
    by_version = {"version": "$response.body#/champion"}
    return [
        Route(
            "GET",
            "/v1/models",
            list_models,
            "Every model version, with its metrics; the champion marked",
            responses={200: ModelList},
            links={
                200: {
                    "GetChampion": {
                        "operationId": "get_v1_models_version",
                        "parameters": by_version,
                    },
                    "PromoteChampion": {
                        "operationId": "post_v1_models_version_promote",
                        "parameters": by_version,
                    },
                }
            },
            tag="models",
        ),
        Route(
            "GET",
            version,
            show,
            "One model version's metadata: parameters, metrics, lineage, checksums",
            params=ModelVersion,
            responses={200: ModelMetadata, 404: None},
            tag="models",
        ),
        Route(
            "POST",
            f"{version}/promote",
            promote,
            "Make a version the champion (also the rollback)",
            body=Promotion,
            params=ModelVersion,
            responses={200: ChampionRecord, 404: None, 409: None},
            write=True,
            tag="models",
        ),
        Route(
            "GET",
            "/v1/runs",
            runs,
            "The latest training runs' ids, the run in progress and the one queued behind it",
            responses={200: RunList},
            tag="models",
        ),
        Route(
            "GET",
            "/v1/runs/<run_id>",
            run,
            "One training run: what asked for it, status, stages and timings, gate decision",
            params=RunId,
            responses={200: Run, 404: None},
            tag="models",
        ),
        Route(
            "GET",
            "/v1/ingestions",
            ingestions,
            "The ingestion ledger, newest first: each data file delivered, what it held, the "
            "champion's error on its stones before retraining, the run it asked for",
            query=Page,
            responses={200: IngestionPage},
            tag="models",
        ),
    ]


def _without(document: dict, *names: str) -> dict:
    return {key: value for key, value in document.items() if key not in names}
