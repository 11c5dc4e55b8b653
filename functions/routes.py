"""The HTTP endpoints of each function, declared as data (functions/api.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from werkzeug.wrappers import Response

from functions import schemas
from functions.api import Call, Problem, Route, invalid, json_response, refuse_implausible
from functions.instance import Instance
from functions.pricing import timed
from training.geometry import record_implausibilities

T = TypeVar("T")
MANY = f"up to {schemas.MAX_STONES:,} stones"
StoneOrList = schemas.Stone | list[schemas.Stone]  # type: ignore[valid-type]
DiamondOrList = schemas.Diamond | list[schemas.Diamond]  # type: ignore[valid-type]
PROBLEMS = {400: schemas.ProblemDetails, 401: schemas.ProblemDetails, 422: schemas.ProblemDetails}


def _at_most(items: list, what: str) -> None:
    if len(items) > schemas.MAX_STONES:
        raise Problem(
            413,
            "Too many stones",
            f"{len(items):,} {what}; at most {schemas.MAX_STONES:,} per request",
        )
    if not items:
        raise Problem(422, "Nothing to do", "the list is empty")


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
        _at_most(stones, "stones")
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
            raise Problem(422, "Nothing to change", "the body names no field")
        nulls = [name for name, value in changes.items() if value is None and name != "price"]
        if nulls:
            raise invalid([{"field": f"/{name}", "detail": "cannot be null"} for name in nulls])
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

    one = "/v1/diamonds/<int(max=9223372036854775807):id>"
    return [
        Route(
            "GET",
            "/v1/diamonds",
            list_diamonds,
            "List inventory stones, filtered and paginated",
            query=schemas.DiamondFilters,
            responses={200: schemas.DiamondPage, **PROBLEMS},
            tag="inventory",
        ),
        Route(
            "POST",
            "/v1/diamonds",
            create,
            f"Add one stone, or a list of {MANY} in one request",
            body=DiamondOrList,
            responses={201: schemas.StoredDiamond | list[schemas.StoredDiamond], **PROBLEMS},
            write=True,
            tag="inventory",
        ),
        Route(
            "GET",
            one,
            get,
            "One inventory stone",
            responses={200: schemas.StoredDiamond, 404: schemas.ProblemDetails},
            tag="inventory",
        ),
        Route(
            "PUT",
            one,
            replace,
            "Replace an inventory stone",
            body=schemas.Diamond,
            responses={200: schemas.StoredDiamond, 404: schemas.ProblemDetails, **PROBLEMS},
            write=True,
            tag="inventory",
        ),
        Route(
            "PATCH",
            one,
            patch,
            "Change some fields of an inventory stone",
            body=schemas.DiamondPatch,
            responses={200: schemas.StoredDiamond, 404: schemas.ProblemDetails, **PROBLEMS},
            write=True,
            tag="inventory",
        ),
        Route(
            "DELETE",
            one,
            delete,
            "Remove an inventory stone",
            responses={204: None, 404: schemas.ProblemDetails, 401: schemas.ProblemDetails},
            write=True,
            tag="inventory",
        ),
    ]


# -- pricing ----------------------------------------------------------------------------------
def pricing_routes(instance: Instance) -> list[Route]:
    def respond(call: Call, stones: list, single: bool, options: schemas.PriceOptions) -> Response:
        elapsed = timed()
        entry = {
            "caller": call.caller,
            "n_stones": len(stones),
            "request": _request_log(call),
        }
        try:
            version, results = instance.pricer.price(
                stones, explain=options.explain, comparables=options.comparables, single=single
            )
            document = results[0] if single else {"model_version": version, "prices": results}
            response = json_response(document)
            entry.update(model_version=version, status=200, response=document)
            return response
        except Problem as problem:
            entry.update(
                status=problem.status, response={"detail": problem.detail, "errors": problem.errors}
            )
            raise
        finally:
            entry["latency_ms"] = elapsed()
            instance.prediction_log.submit(entry)

    def price_body(call: Call) -> Response:
        single = not isinstance(call.body, list)
        stones = [call.body] if single else call.body
        _at_most(stones, "stones")
        return respond(call, stones, single, call.query)

    def price_query(call: Call) -> Response:
        return respond(call, [call.query], True, call.query)

    return [
        Route(
            "POST",
            "/v1/price",
            price_body,
            f"Price one stone, or a list of {MANY}: price, 90% interval, model version; "
            "optionally the explanation and comparable inventory stones",
            body=StoneOrList,
            query=schemas.PriceOptions,
            responses={
                200: schemas.Price | schemas.PriceList,
                503: schemas.ProblemDetails,
                **PROBLEMS,
            },
            tag="pricing",
        ),
        Route(
            "GET",
            "/v1/price",
            price_query,
            "Price one stone given in the query string",
            query=schemas.StoneQuery,
            responses={200: schemas.Price, 503: schemas.ProblemDetails, **PROBLEMS},
            tag="pricing",
        ),
    ]


def _request_log(call: Call) -> dict:
    """The request as the client sent it: the parsed body, or the query string."""
    return {
        "path": call.request.path,
        "query": call.request.query_string.decode("latin-1")[:2000],
        "body": call.document,
    }


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

    version = "/v1/models/<string(minlength=1, maxlength=100):version>"
    return [
        Route(
            "GET",
            "/v1/models",
            list_models,
            "Every model version, with its metrics; the champion marked",
            responses={200: schemas.ModelList},
            tag="models",
        ),
        Route(
            "GET",
            version,
            show,
            "One model version's metadata: parameters, metrics, lineage, checksums",
            responses={200: dict, 404: schemas.ProblemDetails},
            tag="models",
        ),
        Route(
            "POST",
            f"{version}/promote",
            promote,
            "Make a version the champion (also the rollback)",
            body=schemas.Promotion,
            responses={
                200: dict,
                404: schemas.ProblemDetails,
                409: schemas.ProblemDetails,
                **PROBLEMS,
            },
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
            "/v1/runs/<string(maxlength=100):run_id>",
            run,
            "One training run: what asked for it, status, stages and timings, gate decision",
            responses={200: dict, 404: schemas.ProblemDetails},
            tag="models",
        ),
        Route(
            "GET",
            "/v1/ingestions",
            ingestions,
            "The ingestion ledger, newest first: each data file delivered, what it held, the "
            "champion's error on its stones before retraining, the run it asked for",
            query=schemas.Page,
            responses={200: schemas.IngestionPage, **PROBLEMS},
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
            responses={202: schemas.RunStarted, 409: schemas.ProblemDetails, **PROBLEMS},
            write=True,
            tag="models",
        ),
    ]


# -- served by every function -------------------------------------------------------------------
def common_routes(all_routes: list[Route]) -> list[Route]:
    def health(call: Call) -> Response:
        return json_response({"status": "ok"})

    def openapi(call: Call) -> Response:
        from functions.openapi import document

        return json_response(document(all_routes))

    def docs(call: Call) -> Response:
        from functions.openapi import docs_page, document

        return Response(docs_page(document(all_routes)), content_type="text/html; charset=utf-8")

    return [
        Route(
            "GET", "/healthz", health, "Liveness", responses={200: dict}, public=True, tag="service"
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
            responses={200: None},
            public=True,
            tag="service",
        ),
    ]
