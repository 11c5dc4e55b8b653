"""`diamonds partners`, `diamonds keys` and `diamonds usage`: the partners, their keys and their
usage, on DIAMONDS_DATABASE_URL's database (the same as /v1/partners and /v1/usage).

A running instance sees a change within its keys' refresh (seconds)."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime, timedelta

from training.cli import EXIT_OK, UsageError, say

SCOPES = ("price", "read", "write", "admin")


def add_partner_commands(commands: argparse._SubParsersAction) -> None:
    partners = commands.add_parser("partners", help="the partners and their plans")
    steps = partners.add_subparsers(dest="step", required=True, metavar="STEP")
    add = steps.add_parser("add", help="add a partner")
    add.add_argument("name")
    add.add_argument("--contact", required=True, help="who to write to")
    add.add_argument("--requests-per-minute", type=int, default=60)
    add.add_argument("--stones-per-month", type=int, default=100_000)
    add.add_argument("--scopes", default="price", help="comma-separated: price,read,write,admin")
    add.set_defaults(handler=_add)
    steps.add_parser("list", help="every partner").set_defaults(handler=_list)
    show = steps.add_parser("show", help="a partner, its plan and its keys")
    show.add_argument("name")
    show.set_defaults(handler=_show)
    delete = steps.add_parser("delete", help="delete a partner: its keys stop")
    delete.add_argument("name")
    delete.set_defaults(handler=_delete)

    keys = commands.add_parser("keys", help="the partners' keys")
    steps = keys.add_subparsers(dest="step", required=True, metavar="STEP")
    issue = steps.add_parser("issue", help="issue a key to a partner (shown once)")
    issue.add_argument("partner")
    issue.add_argument("--scopes", help="comma-separated; default: the partner's plan")
    issue.add_argument("--expires-in-days", type=int)
    issue.set_defaults(handler=_issue)
    rotate = steps.add_parser("rotate", help="a new key; the old one works for the grace")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace-hours", type=float, default=24.0)
    rotate.set_defaults(handler=_rotate)
    revoke = steps.add_parser("revoke", help="revoke a key now")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_revoke)
    listing = steps.add_parser("list", help="the keys, of one partner or all")
    listing.add_argument("--partner")
    listing.set_defaults(handler=_list_keys)

    usage = commands.add_parser("usage", help="a month's usage per partner (the invoice)")
    usage.add_argument("--month", default=None, help="YYYY-MM, this month by default")
    usage.add_argument("--partner")
    usage.add_argument("--csv", action="store_true", help="per partner, day and route, as CSV")
    usage.set_defaults(handler=_usage)


def _engine():
    from functions.database import check_schema, make_engine
    from functions.settings import ServiceSettings

    engine = make_engine(ServiceSettings.from_environment().database_url)
    check_schema(engine)
    return engine


def _partners():
    from functions.database import Partners

    return Partners(_engine())


def _scopes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise UsageError(f"--scopes {text}: give some of {', '.join(SCOPES)}")
    return scopes


def _add(args: argparse.Namespace) -> int:
    from functions.database import PartnerExists
    from functions.payloads.partners import PartnerNew

    _valid(
        PartnerNew,
        name=args.name,
        contact=args.contact,
        requests_per_minute=args.requests_per_minute,
        stones_per_month=args.stones_per_month,
        scopes=_scopes(args.scopes),
    )
    try:
        found = _partners().add(
            args.name,
            args.contact,
            args.requests_per_minute,
            args.stones_per_month,
            _scopes(args.scopes) or [],
        )
    except PartnerExists:
        raise UsageError(f"a partner named {args.name} exists, or existed") from None
    _say_partner(found)
    return EXIT_OK


def _valid(model, **fields) -> None:
    from pydantic import ValidationError

    try:
        model(**fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise UsageError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _say_partner(found: dict) -> None:
    deleted = f"  deleted {found['deleted_at'][:19]}" if found["deleted_at"] else ""
    say(
        f"{found['name']:<24} {found['requests_per_minute']:>7,}/min "
        f"{found['stones_per_month']:>13,} stones/month  {','.join(found['scopes']):<22} "
        f"{found['contact']}{deleted}"
    )


def _say_key(key: dict) -> None:
    state = "working"
    now = datetime.now(UTC).isoformat()
    if key["revoked_at"]:
        state = ("revoked " if key["revoked_at"] <= now else "until ") + key["revoked_at"][:19]
    elif key["expires_at"]:
        state = ("expired " if key["expires_at"] <= now else "expires ") + key["expires_at"][:19]
    used = key["last_used_at"][:19] if key["last_used_at"] else "never"
    say(
        f"{key['prefix']}  {key['partner']:<20} {','.join(key['scopes']):<22} "
        f"{state:<28} last used {used}"
    )


def _list(args: argparse.Namespace) -> int:
    found = _partners().list()
    if not found:
        say("no partner yet: diamonds partners add NAME --contact EMAIL")
    for partner in found:
        _say_partner(partner)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    partners = _partners()
    found = partners.get(args.name)
    if found is None:
        raise UsageError(f"no partner named {args.name}")
    _say_partner(found)
    for key in partners.keys(args.name):
        _say_key(key)
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    from functions.database import NoSuchPartner

    try:
        _say_partner(_partners().delete(args.name))
    except NoSuchPartner:
        raise UsageError(f"no partner named {args.name}") from None
    return EXIT_OK


def _issue(args: argparse.Namespace) -> int:
    from functions.database import NoSuchPartner

    if args.expires_in_days is not None and not 0 < args.expires_in_days <= 3650:
        raise UsageError(f"--expires-in-days {args.expires_in_days}: give 1 to 3650")
    expires = (
        datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    )
    try:
        row, key = _partners().issue(args.partner, _scopes(args.scopes), expires)
    except NoSuchPartner:
        raise UsageError(f"no partner named {args.partner}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _say_issued(row, key)
    return EXIT_OK


def _say_issued(row: dict, key: str) -> None:
    _say_key(row)
    say(f"the key, shown this once: {key}")


def _rotate(args: argparse.Namespace) -> int:
    from functions.database import NoSuchKey

    if not 0 <= args.grace_hours <= 720:
        raise UsageError(f"--grace-hours {args.grace_hours}: give 0 to 720")
    try:
        row, key = _partners().rotate(args.key_id, timedelta(hours=args.grace_hours))
    except NoSuchKey:
        raise UsageError(f"no working key {args.key_id}") from None
    _say_issued(row, key)
    return EXIT_OK


def _revoke(args: argparse.Namespace) -> int:
    from functions.database import LastAdminKey, NoSuchKey

    try:
        _say_key(_partners().revoke(args.key_id))
    except NoSuchKey:
        raise UsageError(f"no key {args.key_id}") from None
    except LastAdminKey:
        raise UsageError(f"{args.key_id} is the last admin key: issue another first") from None
    return EXIT_OK


def _list_keys(args: argparse.Namespace) -> int:
    for key in _partners().keys(args.partner):
        _say_key(key)
    return EXIT_OK


def _usage(args: argparse.Namespace) -> int:
    from functions.database import Usage
    from functions.database.usage import month_days, summary, totals

    month = args.month or datetime.now(UTC).strftime("%Y-%m")
    try:
        first, last = month_days(month)
    except ValueError:
        raise UsageError(f"--month {month}: give YYYY-MM") from None
    rows = Usage(_engine()).rows(first, last, args.partner)
    if args.csv:
        columns = ("partner", "day", "route", "requests", "stones", "refused", "errors")
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow((*columns, "p50_ms", "p95_ms"))
        for row in map(summary, rows):
            writer.writerow((*(row[c] for c in columns), row["p50_ms"], row["p95_ms"]))
        return EXIT_OK
    if not rows:
        say(f"no usage in {month}")
    for total in totals(rows):
        say(
            f"{month}  {total['partner']:<24} {total['requests']:>10,} requests "
            f"{total['stones']:>12,} stones  refused {total['refused']:,}  errors "
            f"{total['errors']:,}  p50 {total['p50_ms']} ms  p95 {total['p95_ms']} ms"
        )
    return EXIT_OK
