"""The partners' endpoints, served by the models function: partners and their keys (an admin
key's), and usage (a partner's own; an admin's of any partner)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werkzeug.wrappers import Response

from functions.http.keys import ADMIN, PRICE
from functions.http.problems import HttpProblem, invalid
from functions.http.responses import json_response
from functions.http.router import Call, Route
from functions.instance import Instance
from functions.payloads.partners import (
    IssuedKey,
    Key,
    KeyList,
    KeyPath,
    KeyRequest,
    Partner,
    PartnerDetail,
    PartnerList,
    PartnerNew,
    PartnerPath,
    Rotation,
    UsageQuery,
    UsageReport,
)


def partner_routes(instance: Instance) -> list[Route]:
    from functions.database import (
        LastAdminKey,
        NoSuchKey,
        NoSuchPartner,
        PartnerExists,
    )

    def changed() -> None:
        """This instance sees its own change at once; the others within their refresh."""
        instance.access.keyring.changed()

    def partner_or_404(name: str) -> dict:
        found = instance.partners.get(name)
        if found is None:
            raise _no_partner(name)
        return found

    def key_or_404(name: str, key_id: str) -> dict:
        found = instance.partners.key(key_id)
        if found is None or found["partner"] != name:
            raise HttpProblem(404, "Not found", f"partner {name} has no key {key_id}")
        return found

    def list_partners(call: Call) -> Response:
        return json_response({"partners": instance.partners.list()})

    def add_partner(call: Call) -> Response:
        body = call.body
        try:
            created = instance.partners.add(
                body.name,
                body.contact,
                body.requests_per_minute,
                body.stones_per_month,
                list(body.scopes),
            )
        except PartnerExists:
            raise HttpProblem(
                409, "Conflict", f"a partner named {body.name} exists, or existed"
            ) from None
        return json_response(created, 201, {"Location": f"/v1/partners/{body.name}"})

    def show_partner(call: Call) -> Response:
        name = call.params["name"]
        found = partner_or_404(name)
        return json_response({**found, "keys": instance.partners.keys(name)})

    def delete_partner(call: Call) -> Response:
        try:
            found = instance.partners.delete(call.params["name"])
        except NoSuchPartner:
            raise _no_partner(call.params["name"]) from None
        changed()
        return json_response(found)

    def list_keys(call: Call) -> Response:
        name = call.params["name"]
        partner_or_404(name)
        return json_response({"keys": instance.partners.keys(name)})

    def issue_key(call: Call) -> Response:
        name, body = call.params["name"], call.body
        expires = (
            datetime.now(UTC) + timedelta(days=body.expires_in_days)
            if body.expires_in_days
            else None
        )
        try:
            row, key = instance.partners.issue(name, body.scopes, expires)
        except NoSuchPartner:
            raise _no_partner(name) from None
        except ValueError as exc:
            raise invalid([{"field": "/scopes", "detail": str(exc)}]) from None
        changed()
        return _issued(row, key)

    def rotate_key(call: Call) -> Response:
        name, key_id = call.params["name"], call.params["key_id"]
        key_or_404(name, key_id)
        try:
            row, key = instance.partners.rotate(key_id, timedelta(hours=call.body.grace_hours))
        except NoSuchKey:
            raise HttpProblem(409, "Conflict", f"key {key_id} is revoked already") from None
        changed()
        return _issued(row, key)

    def revoke_key(call: Call) -> Response:
        name, key_id = call.params["name"], call.params["key_id"]
        key_or_404(name, key_id)
        try:
            row = instance.partners.revoke(key_id)
        except LastAdminKey:
            raise HttpProblem(
                409,
                "Conflict",
                f"key {key_id} is the last admin key: issue another admin key first",
            ) from None
        changed()
        return json_response(row)

    def usage(call: Call) -> Response:
        from functions.database.usage import month_days, summary, totals

        principal, query = call.principal, call.query
        partner = query.partner
        if not principal.may(ADMIN):  # type: ignore[union-attr]
            own = principal.partner  # type: ignore[union-attr]
            if own is None or (partner is not None and partner != own):
                raise HttpProblem(403, "Forbidden", "a partner's key reads only its own usage")
            partner = own
        month = query.month or datetime.now(UTC).strftime("%Y-%m")
        rows = instance.usage.rows(*month_days(month), partner)
        plans = {p["name"]: p["stones_per_month"] for p in instance.partners.list()}
        return json_response(
            {
                "month": month,
                "partners": [
                    {**total, "stones_per_month": plans.get(total["partner"])}
                    for total in totals(rows)
                ],
                "days": [summary(row) for row in rows],
            }
        )

    partner = "/v1/partners/<name>"
    key = f"{partner}/keys/<key_id>"
    admin = {"scope": ADMIN, "keyed": True, "tag": "partners"}
    return [
        Route(
            "GET",
            "/v1/partners",
            list_partners,
            "Every partner and its plan, deleted ones included",
            responses={200: PartnerList},
            **admin,
        ),
        Route(
            "POST",
            "/v1/partners",
            add_partner,
            "Add a partner with its plan: requests a minute, stones a month, scopes",
            body=PartnerNew,
            responses={201: Partner, 409: None},
            **admin,
        ),
        Route(
            "GET",
            partner,
            show_partner,
            "One partner, its plan and its keys (never their secrets)",
            params=PartnerPath,
            responses={200: PartnerDetail, 404: None},
            **admin,
        ),
        Route(
            "GET",
            f"{partner}/keys",
            list_keys,
            "A partner's keys (never their secrets)",
            params=PartnerPath,
            responses={200: KeyList, 404: None},
            **admin,
        ),
        Route(
            "POST",
            f"{partner}/keys",
            issue_key,
            "Issue a key to a partner: the key is in this answer and never again",
            body=KeyRequest,
            params=PartnerPath,
            responses={201: IssuedKey, 404: None},
            **admin,
        ),
        Route(
            "POST",
            f"{key}/rotate",
            rotate_key,
            "Rotate a key: a new key (shown once) with its scopes; the old one keeps working "
            "for the grace period",
            body=Rotation,
            params=KeyPath,
            responses={201: IssuedKey, 404: None, 409: None},
            **admin,
        ),
        Route(
            "DELETE",
            key,
            revoke_key,
            "Revoke a key now (not the last admin key)",
            params=KeyPath,
            responses={200: Key, 404: None, 409: None},
            **admin,
        ),
        Route(
            "DELETE",
            partner,
            delete_partner,
            "Delete a partner: its keys stop at once; its usage stays, its name is not reused",
            params=PartnerPath,
            responses={200: Partner, 404: None},
            **admin,
        ),
        Route(
            "GET",
            "/v1/usage",
            usage,
            "Usage of a month per partner, and per day and route: requests, stones priced, "
            "refused, errors, p50/p95 latency. A partner's key reads its own; an admin's any",
            query=UsageQuery,
            responses={200: UsageReport},
            scope=PRICE,
            keyed=True,
            tag="partners",
        ),
    ]


def _no_partner(name: str) -> HttpProblem:
    return HttpProblem(404, "Not found", f"no partner named {name}")


def _issued(row: dict, key: str) -> Response:
    return json_response(
        {**row, "key": key},
        201,
        {
            "Location": f"/v1/partners/{row['partner']}/keys/{row['id']}",
            "Cache-Control": "no-store",
        },
    )
