"""The `diamonds` console script: the training commands plus `serve`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from training.cli import EXIT_OK, build_parser, run


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    serve = commands.add_parser("serve", help="the whole local stack on the embedded defaults")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.set_defaults(handler=_serve)
    return run(parser, argv)


def _serve(args: argparse.Namespace) -> int:
    from functions.serve import serve

    if not 0 < args.port < 65536:
        raise ValueError(f"--port {args.port}: not a TCP port")
    serve(args.host, args.port)
    return EXIT_OK
