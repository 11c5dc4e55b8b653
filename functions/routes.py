"""The HTTP endpoints of each function, declared as data (functions/routing.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TypeVar

from werkzeug.wrappers import Response

from functions import schemas
from functions.instance import Instance
from functions.routing import Call, Problem, Route, invalid, json_response, refuse_implausible
from training.geometry import record_implausibilities
from training.schema import DEPTH_TOLERANCE, WEIGHT_RATIO_RANGE

T = TypeVar("T")
MANY = f"up to {schemas.MAX_STONES:,} stones"
GEOMETRY = (
    "the geometry rule: a stone whose measurements contradict each other (its carat outside "
    f"{WEIGHT_RATIO_RANGE[0]:g}–{WEIGHT_RATIO_RANGE[1]:g} times the weight its x·y·z box "
    f"implies, or its depth % more than {DEPTH_TOLERANCE:g} points off 2·z/(x+y)·100) is refused"
)
DOMAIN = (
    GEOMETRY + ", and so is one far outside what the serving model was trained on (a "
    "measurement well beyond the range of its training stones': the message gives the range)"
)


# -- inventory --------------------------------------------------------------------------------
def _stored(write: Callable[[], T]) -> T:
    """Run a database write; a record the database refuses becomes a 422 naming the field."""
    from functions.database import InvalidRecord

    try:
        return write()
    except InvalidRecord as exc:
        raise invalid(
            [{"field": f"/{exc.field}" if exc.field else "", "detail": str(exc)}]
        ) from None


def _plausible(records: list[dict], single: bool) -> None:
    """The inventory is the training data: it refuses what training would quarantine."""
    refuse_implausible(record_implausibilities(records), single)


def inventory_routes(instance: Instance) -> list[Route]:
    def list_diamonds(call: Call) -> Response:
        q = call.query
        filters = q.model_dump(exclude={"limit", "cursor"}, exclude_none=True)
        items, next_cursor = instance.inventory.list(filters, q.limit, q.cursor)
        page = {
            "items": items,
            "next_cursor": next_cursor,
            "total": instance.inventory.count(filters),
        }
        return json_response(page)

    def create(call: Call) -> Response:
        many = isinstance(call.body, list)
        stones = call.body if many else [call.body]
        records = [s.model_dump() for s in stones]
        _plausible(records, single=not many)
        created = _stored(lambda: instance.inventory.create_many(records, source="api"))
        location = {"Location": f"/v1/diamonds/{created[0]['id']}"} if not many else None
        return json_response(created if many else created[0], 201, location)

    def found(stone: dict | None, call: Call) -> Response:
        if stone is None:
            raise Problem(404, "Not found", f"no diamond with id {call.params['id']}")
        return json_response(stone)

    def get(call: Call) -> Response:
        return found(instance.inventory.get(call.params["id"]), call)

    def replace(call: Call) -> Response:
        record = call.body.model_dump()
        _plausible([record], single=True)
        return found(_stored(lambda: instance.inventory.replace(call.params["id"], record)), call)

    def patch(call: Call) -> Response:
        changes = call.body.model_dump(exclude_unset=True)
        if not changes:
            raise invalid([{"field": "", "detail": "name at least one field"}], "Nothing to change")
        stored = _stored(
            lambda: instance.inventory.patch(
                call.params["id"], changes, check=lambda stone: _plausible([stone], single=True)
            )
        )
        return found(stored, call)

    def delete(call: Call) -> Response:
        if not instance.inventory.delete(call.params["id"]):
            raise Problem(404, "Not found", f"no diamond with id {call.params['id']}")
        return Response(status=204)

    one = "/v1/diamonds/<int:id>"
    by_id = {"id": "$response.body#/id"}
    stone_links = {
        "GetDiamond": {"operationId": "get_v1_diamonds_id", "parameters": by_id},
        "ReplaceDiamond": {"operationId": "put_v1_diamonds_id", "parameters": by_id},
        "PatchDiamond": {"operationId": "patch_v1_diamonds_id", "parameters": by_id},
        "DeleteDiamond": {"operationId": "delete_v1_diamonds_id", "parameters": by_id},
    }
    return [
        Route(
            "GET",
            "/v1/diamonds",
            list_diamonds,
            "List inventory stones, filtered and paginated",
            query=schemas.DiamondFilters,
            responses={200: schemas.DiamondPage},
            tag="inventory",
        ),
        Route(
            "POST",
            "/v1/diamonds",
            create,
            f"Add one stone, or a list of {MANY} in one request (all or none)",
            body=schemas.Diamond,
            bulk=schemas.MAX_STONES,
            responses={201: schemas.StoredDiamond | list[schemas.StoredDiamond]},
            links={201: stone_links},
            refuses=GEOMETRY,
            write=True,
            tag="inventory",
        ),
        Route(
            "GET",
            one,
            get,
            "One inventory stone",
            params=schemas.DiamondId,
            responses={200: schemas.StoredDiamond, 404: None},
            tag="inventory",
        ),
        Route(
            "PUT",
            one,
            replace,
            "Replace an inventory stone",
            body=schemas.Diamond,
            params=schemas.DiamondId,
            responses={200: schemas.StoredDiamond, 404: None},
            refuses=GEOMETRY,
            write=True,
            tag="inventory",
        ),
        Route(
            "PATCH",
            one,
            patch,
            "Change some fields of an inventory stone",
            body=schemas.DiamondPatch,
            params=schemas.DiamondId,
            responses={200: schemas.StoredDiamond, 404: None},
            refuses=GEOMETRY + " (the stone as the change would leave it)",
            write=True,
            tag="inventory",
        ),
        Route(
            "DELETE",
            one,
            delete,
            "Remove an inventory stone",
            params=schemas.DiamondId,
            responses={204: None, 404: None},
            write=True,
            tag="inventory",
        ),
    ]


# -- pricing ----------------------------------------------------------------------------------
def pricing_routes(instance: Instance) -> list[Route]:
    from training.registry import NoChampion

    def respond(
        call: Call, stones: list, single: bool, options: schemas.PriceOptions, at: tuple = ()
    ) -> Response:
        """A 503 without a model; a 422 for stones refused, its errors pointing at `at` + the
        field (or + the stone's index and the field)."""
        try:
            version, results, problems = instance.pricer.price(
                stones, explain=options.explain, comparables=options.comparables
            )
        except NoChampion as exc:
            raise Problem(503, "No model yet", f"{exc}; POST /v1/retrain to train one") from None
        refuse_implausible(problems, single, at)
        document = results[0] if single else {"model_version": version, "prices": results}
        call.journal.update(model_version=version, n_stones=len(stones), response=document)
        return json_response(document)

    def price_body(call: Call) -> Response:
        single = not isinstance(call.body, list)
        return respond(call, [call.body] if single else call.body, single, call.query)

    def price_query(call: Call) -> Response:
        return respond(call, [call.query], True, call.query, at=("query",))

    def journal(entry: dict) -> None:
        instance.prediction_log.submit(entry)

    return [
        Route(
            "POST",
            "/v1/price",
            price_body,
            f"Price one stone, or a list of {MANY}: price, 90% interval, model version; "
            "optionally the explanation and comparable inventory stones",
            body=schemas.Stone,
            bulk=schemas.MAX_STONES,
            query=schemas.PriceOptions,
            responses={200: schemas.Price | schemas.PriceList, 503: None},
            refuses=DOMAIN,
            tag="pricing",
            journal=journal,
        ),
        Route(
            "GET",
            "/v1/price",
            price_query,
            "Price one stone given in the query string",
            query=schemas.StoneQuery,
            responses={200: schemas.Price, 503: None},
            refuses=DOMAIN,
            tag="pricing",
            journal=journal,
        ),
    ]


# -- models and runs --------------------------------------------------------------------------
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
            raise Problem(404, "Not found", f"no model version {version}") from None
        champion = (instance.registry.champion() or {}).get("version")
        return json_response({**meta, "champion": version == champion})

    def promote(call: Call) -> Response:
        from training.registry import PromotionConflict, UnknownVersion

        version = call.params["version"]
        try:
            record = instance.registry.promote(version, call.body.reason)
        except (UnknownVersion, ValueError):
            raise Problem(404, "Not found", f"no model version {version}") from None
        except PromotionConflict as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        return json_response(record)

    def run(call: Call) -> Response:
        try:
            return json_response(instance.schedule.run(call.params["run_id"]))
        except (LookupError, ValueError):
            raise Problem(404, "Not found", f"no run {call.params['run_id']}") from None

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
        return json_response({"items": items, "next_cursor": next_cursor})

    version = "/v1/models/<version>"
    by_version = {"version": "$response.body#/champion"}
    return [
        Route(
            "GET",
            "/v1/models",
            list_models,
            "Every model version, with its metrics; the champion marked",
            responses={200: schemas.ModelList},
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
            params=schemas.ModelVersion,
            responses={200: schemas.ModelMetadata, 404: None},
            tag="models",
        ),
        Route(
            "POST",
            f"{version}/promote",
            promote,
            "Make a version the champion (also the rollback)",
            body=schemas.Promotion,
            params=schemas.ModelVersion,
            responses={200: schemas.ChampionRecord, 404: None, 409: None},
            write=True,
            tag="models",
        ),
        Route(
            "GET",
            "/v1/runs",
            runs,
            "The latest training runs' ids, the run in progress and the one queued behind it",
            responses={200: schemas.RunList},
            tag="models",
        ),
        Route(
            "GET",
            "/v1/runs/<run_id>",
            run,
            "One training run: what asked for it, status, stages and timings, gate decision",
            params=schemas.RunId,
            responses={200: schemas.Run, 404: None},
            tag="models",
        ),
        Route(
            "GET",
            "/v1/ingestions",
            ingestions,
            "The ingestion ledger, newest first: each data file delivered, what it held, the "
            "champion's error on its stones before retraining, the run it asked for",
            query=schemas.Page,
            responses={200: schemas.IngestionPage},
            tag="models",
        ),
    ]


# -- retraining -------------------------------------------------------------------------------
def retrain_routes(instance: Instance) -> list[Route]:
    def retrain(call: Call) -> Response:
        from functions.retraining import JobNotStarted, NothingToTrain, request_training

        try:
            started = request_training(
                instance, trigger="api", reason=call.body.reason, caller=call.caller
            )
        except NothingToTrain as exc:
            raise Problem(409, "Nothing to train on", str(exc)) from None
        except JobNotStarted as exc:
            raise Problem(503, "Training could not start", str(exc)) from None
        return json_response(started, 202, {"Location": started["status_url"]})

    return [
        Route(
            "POST",
            "/v1/retrain",
            retrain,
            "Snapshot the inventory and ask for a training run; poll the returned status URL. "
            "One run trains at a time: a request while one runs joins the single follow-up run "
            "queued behind it (202 pointing at that run, coalesced=true)",
            body=schemas.RetrainRequest,
            responses={202: schemas.RunStarted, 409: None, 503: None},
            links={
                202: {
                    "GetRun": {
                        "operationId": "get_v1_runs_run_id",
                        "parameters": {"run_id": "$response.body#/run_id"},
                    }
                }
            },
            write=True,
            tag="models",
        ),
    ]


# -- served by every function -------------------------------------------------------------------
def common_routes(all_routes: list[Route]) -> list[Route]:
    """Health, the API document and its page. The document is made once per instance, on its
    first request, and served as the same bytes ever after."""

    @cache
    def spec() -> bytes:
        from functions.openapi import document, serialise

        return serialise(document(all_routes))

    @cache
    def page() -> bytes:
        import orjson

        from functions.openapi import docs_page

        return docs_page(orjson.loads(spec())).encode()

    def health(call: Call) -> Response:
        return json_response({"status": "ok"})

    def openapi(call: Call) -> Response:
        return Response(spec(), content_type="application/json")

    def docs(call: Call) -> Response:
        return Response(page(), content_type="text/html; charset=utf-8")

    return [
        Route(
            "GET",
            "/healthz",
            health,
            "Liveness",
            responses={200: dict},
            public=True,
            tag="service",
        ),
        Route(
            "GET",
            "/v1/openapi.json",
            openapi,
            "This API's OpenAPI 3.1 document",
            responses={200: dict},
            public=True,
            tag="service",
        ),
        Route(
            "GET",
            "/v1/docs",
            docs,
            "This API's documentation page",
            responses={200: "text/html"},
            public=True,
            tag="service",
        ),
    ]
