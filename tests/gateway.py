"""The four HTTP functions as functions-framework loads them, behind one address routed the way
the cloud's front door routes them (local.serve.Gateway): what an API client sees, without
the rest of `diamonds serve` (no seeding, no watcher, no console). Configured by the DIAMONDS_*
environment; tests start it as a process of its own:

    python -m tests.gateway PORT
"""

from __future__ import annotations

import sys

from werkzeug.serving import make_server

from functions.deployables import HTTP_TARGETS
from local.serve import Gateway, loaded


def main(port: int) -> None:
    apps = {name: loaded(name) for name in HTTP_TARGETS}
    make_server("127.0.0.1", port, Gateway(apps), threaded=True).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
