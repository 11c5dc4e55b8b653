"""The inventory function's endpoints: /v1/diamonds...

Each stone has an ETag, its revision: a change sent with If-Match applies only to the revision
it names (412 otherwise: someone changed the stone since), so two clients editing one stone
never silently overwrite each other; a read with If-None-Match naming it is a 304."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from werkzeug.wrappers import Response

from functions.endpoints import APPRAISAL, MANY, refuse_implausible
from functions.http.conditional import (
    ANY,
    etag,
    not_modified,
    precondition_failed,
    required_revisions,
)
from functions.http.problems import HttpProblem, invalid
from functions.http.responses import json_response
from functions.http.router import Call, Route
from functions.instance import Instance
from functions.payloads.inventory import (
    Diamond,
    DiamondFilters,
    DiamondId,
    DiamondPage,
    DiamondPatch,
)
from functions.payloads.schema import MAX_STONES
from functions.payloads.stones import StoredDiamond
from training.plausibility import record_implausibilities

T = TypeVar("T")


def _stored(write: Callable[[], T]) -> T:
    """Run a database write; a record the database refuses becomes a 422 naming the field, a
    revision If-Match does not name a 412."""
    from functions.database import InvalidRecord, RevisionMismatch

    try:
        return write()
    except InvalidRecord as exc:
        raise invalid(
            [{"field": f"/{exc.field}" if exc.field else "", "detail": str(exc)}]
        ) from None
    except RevisionMismatch as exc:
        raise precondition_failed(exc.revision) from None


def _revisions(call: Call) -> frozenset[int] | None:
    """The revisions the change may apply to (None: any, the stone must only exist)."""
    revisions = required_revisions(call.request)
    return None if revisions is ANY else revisions


def _stone(stone: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_response(stone, status, {**(headers or {}), "ETag": etag(stone["revision"])})


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
        if many:
            return json_response(created, 201)
        return _stone(created[0], 201, {"Location": f"/v1/diamonds/{created[0]['id']}"})

    def found(stone: dict | None, call: Call) -> dict:
        if stone is None:
            raise HttpProblem(404, "Not found", f"no diamond with id {call.params['id']}")
        return stone

    def get(call: Call) -> Response:
        stone = found(instance.inventory.get(call.params["id"]), call)
        return not_modified(call.request, stone["revision"]) or _stone(stone)

    def replace(call: Call) -> Response:
        record = call.body.model_dump()
        _plausible([record], single=True)
        revisions = _revisions(call)
        return _stone(
            found(
                _stored(lambda: instance.inventory.replace(call.params["id"], record, revisions)),
                call,
            )
        )

    def patch(call: Call) -> Response:
        changes = call.body.model_dump(exclude_unset=True)
        if not changes:
            raise invalid([{"field": "", "detail": "name at least one field"}], "Nothing to change")
        revisions = _revisions(call)
        stored = _stored(
            lambda: instance.inventory.patch(
                call.params["id"],
                changes,
                check=lambda stone: _plausible([stone], single=True),
                revisions=revisions,
            )
        )
        return _stone(found(stored, call))

    def delete(call: Call) -> Response:
        revisions = _revisions(call)
        if not _stored(lambda: instance.inventory.delete(call.params["id"], revisions)):
            raise HttpProblem(404, "Not found", f"no diamond with id {call.params['id']}")
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
            query=DiamondFilters,
            responses={200: DiamondPage},
            tag="inventory",
        ),
        Route(
            "POST",
            "/v1/diamonds",
            create,
            f"Add one stone, or a list of {MANY} in one request (all or none)",
            body=Diamond,
            bulk=MAX_STONES,
            responses={201: StoredDiamond | list[StoredDiamond]},
            links={201: stone_links},
            refuses=APPRAISAL,
            write=True,
            tag="inventory",
        ),
        Route(
            "GET",
            one,
            get,
            "One inventory stone",
            params=DiamondId,
            responses={200: StoredDiamond, 404: None},
            conditional=True,
            tag="inventory",
        ),
        Route(
            "PUT",
            one,
            replace,
            "Replace an inventory stone",
            body=Diamond,
            params=DiamondId,
            responses={200: StoredDiamond, 404: None},
            refuses=APPRAISAL,
            write=True,
            conditional=True,
            tag="inventory",
        ),
        Route(
            "PATCH",
            one,
            patch,
            "Change some fields of an inventory stone",
            body=DiamondPatch,
            params=DiamondId,
            responses={200: StoredDiamond, 404: None},
            refuses=APPRAISAL + " (the stone as the change would leave it)",
            write=True,
            conditional=True,
            tag="inventory",
        ),
        Route(
            "DELETE",
            one,
            delete,
            "Remove an inventory stone",
            params=DiamondId,
            responses={204: None, 404: None},
            write=True,
            conditional=True,
            tag="inventory",
        ),
    ]
