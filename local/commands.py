"""The service's commands of `diamonds`: `serve`, `ingestions`, `monitor`, `db upgrade`, and the
partners' (`partners`, `keys`, `usage`: local/partners.py).

The command line is training's (training/cli.py); these join it through the `diamonds.commands`
entry point declared in pyproject.toml.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from local.partners import add_partner_commands
from training.cli import EXIT_OK, UsageError, say


def add_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="the whole local stack on the embedded defaults")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument(
        "--emulate-gcp",
        action="store_true",
        help="both storage roots on a local GCS emulator, the database on PostgreSQL",
    )
    serve.add_argument(
        "--seed",
        type=Path,
        metavar="CSV",
        help="the data file an empty inventory is seeded with (default: the public data set)",
    )
    serve.set_defaults(handler=_serve)
    ingestions = commands.add_parser(
        "ingestions", help="the ingestion ledger: each data file and what became of it"
    )
    ingestions.add_argument("--limit", type=int, default=20, help="how many, newest first")
    ingestions.set_defaults(handler=_ingestions)
    monitor = commands.add_parser(
        "monitor",
        help="drift of the stones priced against the champion's training stones, and the "
        "champion's error on each ingested file's fresh appraisals",
    )
    monitor.add_argument("--window", default="1d", help="hours (12h) or days (30d); default 1d")
    monitor.add_argument("--partner", help="only the stones this partner's keys priced")
    monitor.set_defaults(handler=_monitor)
    database = commands.add_parser("db", help="the database's schema")
    steps = database.add_subparsers(dest="step", required=True, metavar="STEP")
    upgrade = steps.add_parser(
        "upgrade",
        help="bring DIAMONDS_DATABASE_URL's schema to this release's and, with "
        "DIAMONDS_DATABASE_APP_URL, make its user a role of rows only (a release step; "
        "`diamonds serve` does it by itself)",
    )
    upgrade.set_defaults(handler=_upgrade)
    add_partner_commands(commands)


def _serve(args: argparse.Namespace) -> int:
    from local.serve import PortTaken, serve

    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: not a TCP port")
    if args.seed is not None and not args.seed.is_file():
        raise UsageError(f"--seed {args.seed}: no such file")
    try:
        serve(args.host, args.port, emulate_gcp=args.emulate_gcp, seed_file=args.seed)
    except PortTaken as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def _upgrade(args: argparse.Namespace) -> int:
    from functions.database.upgrade import upgrade
    from functions.settings import ServiceSettings

    settings = ServiceSettings.from_environment()
    try:
        say(upgrade(settings.database_url, settings.database_app_url.get_secret_value()))
    except ValueError as error:
        raise UsageError(str(error)) from None
    return EXIT_OK


def _ingestions(args: argparse.Namespace) -> int:
    from functions.database import IngestedFiles, check_schema, make_engine
    from functions.settings import ServiceSettings
    from functions.statuses import FileEvent

    if not 0 < args.limit <= 500:
        raise UsageError(f"--limit {args.limit}: give 1 to 500")
    engine = make_engine(ServiceSettings.from_environment().database_url)
    check_schema(engine)
    rows, _ = IngestedFiles(engine).list(args.limit)
    if not rows:
        say("no data file has been ingested yet")
    for row in rows:
        mape = row["champion_mape"]
        error = f"champion MAPE {mape:5.2f}% on {row['champion_scored']}" if mape else "—"
        changes = (
            f"new {row['inserted'] or 0} corrected {row['changed'] or 0} "
            f"withdrawn {row['withdrawn'] or 0}"
        )
        counts = (
            f"read {row['rows_read'] or 0} accepted {row['accepted'] or 0} ({changes}) "
            f"quarantined {row['rejected'] or 0}"
            if row["event"] == FileEvent.FINALIZED
            else f"deleted: withdrawn {row['withdrawn'] or 0}"
        )
        held = f"  held until {row['lease_until'][:19]}" if row["lease_until"] else ""
        say(
            f"{row['received_at'][:19]}  {row['status']:<10} {row['name']}#{row['generation']}  "
            f"{counts}  {error}  run {row['run_id'] or '—'}{held}"
            + (f"  error: {row['error']}" if row["error"] else "")
        )
    return EXIT_OK


def _monitor(args: argparse.Namespace) -> int:
    import re

    from functions.database import IngestedFiles, PricedStones, check_schema, make_engine
    from functions.monitoring import Monitoring, window_bounds
    from functions.settings import ServiceSettings
    from training.registry import Registry
    from training.storage import open_storage

    if not re.fullmatch(r"[1-9][0-9]{0,2}[hd]", args.window):
        raise UsageError(f"--window {args.window}: give hours (12h) or days (30d), up to 999")
    settings = ServiceSettings.from_environment()
    engine = make_engine(settings.database_url)
    check_schema(engine)
    monitoring = Monitoring(
        Registry(open_storage(settings.models_root)), PricedStones(engine), IngestedFiles(engine)
    )
    drift = monitoring.drift(*window_bounds(args.window, None), args.partner)
    for line in [*drift_table(drift), "", *accuracy_table(monitoring.accuracy())]:
        say(line)
    return EXIT_OK


def _figure(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _verdict(flag: bool | None, yes: str) -> str:
    return "too few stones" if flag is None else (yes if flag else "ok")


def drift_table(drift: dict) -> list[str]:
    who = f" by {drift['partner']}" if drift["partner"] else ""
    lines = [
        f"drift {drift['start'][:19]} – {drift['end'][:19]} UTC{who}: {drift['stones']:,} "
        f"stones priced, {drift['refused_requests']:,} requests refused "
        f"({drift['refused_stones']:,} stones, not counted)"
    ]
    if drift["reference"] is None:
        return [*lines, "no champion yet: nothing to compare with"]
    reference = drift["reference"]
    lines.append(f"against {reference['version']}'s {reference['stones']:,} training stones")
    lines.append(
        f"{'characteristic':<15}{'Jensen-Shannon':>15}{'PSI':>9}{'threshold':>11}  verdict"
    )
    for figure in [*drift["characteristics"], drift["price"]]:
        lines.append(
            f"{figure['name']:<15}{_figure(figure['js_distance']):>15}"
            f"{_figure(figure['psi']):>9}{figure['threshold']:>11g}  "
            + _verdict(figure["crossed"], "DRIFTED")
        )
    lines.append(f"{'factor':<15}{'training':>15}{'priced':>9}{'shift':>11}  verdict")
    for factor in drift["factors"]:
        lines.append(
            f"{factor['characteristic']:<15}{_figure(factor['reference'], 3):>15}"
            f"{_figure(factor['live'], 3):>9}{_figure(factor['shift'], 3):>11}  "
            + _verdict(factor["moved"], "MOVED")
        )
    return lines


def accuracy_table(accuracy: dict) -> list[str]:
    if not accuracy["files"]:
        return ["live accuracy: no ingested file has been scored yet"]
    lines = [
        f"live accuracy (alert past {accuracy['alert_ratio']:g} × the model's cross-validated "
        "MAPE)",
        f"{'scored at':<21}{'model':<26}{'stones':>8}{'MAPE %':>8}{'CV %':>7}{'covered':>9}  file",
    ]
    for row in accuracy["files"]:
        coverage = "—" if row["coverage"] is None else f"{row['coverage']:.1%}"
        lines.append(
            f"{row['scored_at'][:19]:<21}{row['model_version']:<26}{row['stones'] or 0:>8}"
            f"{row['mape']:>8.2f}{_figure(row['cv_mape'], 2):>7}{coverage:>9}  {row['name']}"
            + ("  ALERT" if row["alert"] else "")
        )
    return lines
