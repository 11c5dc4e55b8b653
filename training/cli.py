"""The `diamonds` command line: `train | price | models` here, and the commands other packages
add through the `diamonds.commands` entry points (the service adds `serve` and `ingestions`,
local/commands.py). `python -m training` and the training commands never load those.

Exit codes: 0 done, 2 unusable input or arguments (one clear message), 1 any other failure (one
line; DIAMONDS_DEBUG=1 adds the traceback of an unexpected one). Output may go to a reader that
stops early (`| head`): the command then finishes its work without a word more.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path

from training.params import ModelParams

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
TRAINING_COMMANDS = ("train", "price", "models")
COMMANDS_GROUP = "diamonds.commands"
"""Entry points that add commands: each names a function given the subparsers to add to."""
DEBUG_VARIABLE = "DIAMONDS_DEBUG"


class UsageError(Exception):
    """Unusable input or arguments: reported in one line, exit code 2."""


def say(text: str) -> None:
    """Print a line of output. A reader that went away (a closed pipe) stops the output, not
    the work: what follows is discarded."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _discard_output()


def _discard_output() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 as well; keep its message short
        raise UsageError(message)


def add_training_commands(commands: argparse._SubParsersAction) -> None:
    models_root = argparse.ArgumentParser(add_help=False)
    models_root.add_argument(
        "--models-root", help="MODELS root URI (default: $DIAMONDS_MODELS_ROOT)"
    )
    train = commands.add_parser(
        "train", parents=[models_root], help="validate, train, evaluate, register and gate"
    )
    train.add_argument("files", nargs="+", metavar="FILE_OR_URI", help="CSV data file(s)")
    train.add_argument("--data-root", help="DATA root URI (default: $DIAMONDS_DATA_ROOT)")
    train.add_argument(
        "--run-id",
        help=(
            "the run to train, as the schedule named it for its job (default: a new run); such "
            "a run trains with the champion's parameters unless --param is given"
        ),
    )
    train.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a model parameter, e.g. --param n_estimators=300 (repeatable)",
    )
    train.add_argument("--trigger", default="cli", help=argparse.SUPPRESS)
    train.set_defaults(handler=_train)

    price = commands.add_parser(
        "price", parents=[models_root], help="price a CSV file of stones with the champion"
    )
    price.add_argument("--in", dest="source", required=True, type=Path, metavar="CSV")
    price.add_argument("--out", dest="target", required=True, type=Path, metavar="CSV")
    price.add_argument(
        "--explain", action="store_true", help="add the factor of each characteristic"
    )
    price.set_defaults(handler=_price)

    models = commands.add_parser("models", help="list, show or promote model versions")
    action = models.add_subparsers(dest="action", required=True, parser_class=Parser)
    action.add_parser("list", parents=[models_root], help="every version; * marks the champion")
    show = action.add_parser("show", parents=[models_root], help="the metadata of one version")
    show.add_argument("version")
    promote = action.add_parser(
        "promote", parents=[models_root], help="make a version the champion (also: roll back)"
    )
    promote.add_argument("version")
    promote.add_argument("--reason", default="promoted by hand")
    models.set_defaults(handler=_models)


def build_parser(
    prog: str = "diamonds", *, extended: bool = True
) -> tuple[Parser, argparse._SubParsersAction]:
    """The parser of every command; without `extended`, of the training commands alone."""
    parser = Parser(prog=prog, description="Diamond pricing: train, price, manage models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_training_commands(commands)
    if extended:
        from importlib.metadata import entry_points

        for extension in entry_points(group=COMMANDS_GROUP):
            extension.load()(commands)
    return parser, commands


def run(parser: Parser, argv: Sequence[str] | None) -> int:
    """Parse and dispatch, mapping failures to exit codes and one-line messages."""
    from pydantic import ValidationError

    from training.config import settings_problem
    from training.job import UnusableInput
    from training.registry import (
        ChecksumMismatch,
        NoChampion,
        PromotionConflict,
        UnknownVersion,
    )
    from training.schedule import SlotLost
    from training.validation import UnusableFile

    try:
        args = parser.parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except ValidationError as exc:
        _error(parser, settings_problem(exc))
        return EXIT_USAGE
    except UnknownVersion as exc:
        _error(parser, f"no model version {exc}")
        return EXIT_USAGE
    except (UsageError, UnusableInput, UnusableFile) as exc:
        _error(parser, str(exc))
        return EXIT_USAGE
    except (ChecksumMismatch, PromotionConflict, SlotLost, NoChampion) as exc:
        _error(parser, str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:
        _discard_output()
        return EXIT_FAILURE
    except Exception as exc:
        if os.environ.get(DEBUG_VARIABLE):
            import traceback

            traceback.print_exc()
        print(
            f"{parser.prog}: unexpected failure: {type(exc).__name__}: {exc}"
            f" (set {DEBUG_VARIABLE}=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def _error(parser: Parser, message: str) -> None:
    print(f"{parser.prog}: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """`diamonds`: a training command is parsed and run without loading the other packages'
    commands."""
    argv = sys.argv[1:] if argv is None else list(argv)
    training_only = bool(argv) and argv[0] in TRAINING_COMMANDS
    parser, _ = build_parser(extended=not training_only)
    return run(parser, argv)


def _settings(args: argparse.Namespace):
    from training.config import TrainingSettings

    overrides = {
        key: value
        for key in ("data_root", "models_root")
        if (value := getattr(args, key, None)) is not None
    }
    return TrainingSettings.from_environment(**overrides)


def _train(args: argparse.Namespace) -> int:
    """A training process (training/worker.py): this run and the follow-ups queued meanwhile."""
    from training.worker import train

    settings = _settings(args)
    if args.run_id is not None and not _is_identifier(args.run_id):
        raise UsageError("--run-id may hold only letters, digits, '.', '_' and '-' (≤ 100)")
    train(
        settings,
        list(args.files),
        params=parse_params(args.param),
        params_given=bool(args.param),
        run_id=args.run_id,
        trigger=args.trigger,
        say=say,
    )
    return EXIT_OK


def _price(args: argparse.Namespace) -> int:
    from training.batch import price_file
    from training.registry import Registry
    from training.storage import open_storage

    registry = Registry(open_storage(_settings(args).models_root))
    if not args.source.is_file():
        raise UsageError(f"--in {args.source}: no such file")
    summary = price_file(registry, args.source.read_bytes(), args.target, explain=args.explain)
    say(
        f"priced {summary['priced']} of {summary['rows']} stones with model {summary['version']}; "
        f"{summary['refused']} refused (see the error column) → {args.target}"
    )
    return EXIT_OK


def _models(args: argparse.Namespace) -> int:
    import json

    from training.registry import Registry
    from training.storage import open_storage

    root = _settings(args).models_root
    registry = Registry(open_storage(root))
    champion = (registry.champion() or {}).get("version")
    if args.action == "list":
        versions = registry.versions()
        if not versions:
            say(f"no models registered under {root}")
        for version in versions:
            meta = registry.metadata(version)
            mape = meta["metrics"]["cross_validation"]["mape"]
            mark = "*" if version == champion else " "
            say(f"{mark} {version}  CV MAPE {mape:5.2f}%  rows {meta['lineage']['rows_accepted']}")
    elif args.action == "show":
        metadata = {**registry.metadata(args.version), "champion": args.version == champion}
        say(json.dumps(metadata, indent=2))
    else:
        record = registry.promote(args.version, args.reason)
        say(f"champion is now {record['version']} (was {record['previous']})")
    return EXIT_OK


def parse_params(assignments: list[str]) -> ModelParams:
    """ModelParams from NAME=VALUE strings (a list field takes comma-separated values);
    pydantic converts and checks each value."""
    from pydantic import ValidationError

    defaults = ModelParams()
    known = [f.name for f in fields(ModelParams)]
    overrides: dict[str, object] = {}
    for assignment in assignments:
        name, _, text = assignment.partition("=")
        if name not in known or not text:
            raise UsageError(
                f"--param {assignment!r}: expected NAME=VALUE with NAME one of {', '.join(known)}"
            )
        is_list = isinstance(getattr(defaults, name), tuple)
        overrides[name] = [part.strip() for part in text.split(",")] if is_list else text
    try:
        return ModelParams(**overrides)
    except ValidationError as exc:
        problems = (f"--param {error['loc'][0]}: {error['msg']}" for error in exc.errors())
        raise UsageError("; ".join(problems)) from None


def _is_identifier(text: str) -> bool:
    return 0 < len(text) <= 100 and all(c.isalnum() or c in "._-" for c in text)
