"""The `diamonds` console script: the training commands plus `serve`."""

from __future__ import annotations

from collections.abc import Sequence

from training.cli import build_parser, run


def main(argv: Sequence[str] | None = None) -> int:
    parser, _commands = build_parser()
    return run(parser, argv)
