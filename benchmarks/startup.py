"""What an instance's start-up costs and what the garbage collector would make it pay: the
figures behind the choices in `functions/main.py`, `functions/__init__.py`,
`functions/instance.py` and `training/forest.py`.

    python benchmarks/startup.py [--repeats 5] [--no-record]

Each import figure is the median of --repeats fresh interpreters:

  (i)   importing the service (`functions.main`): the objects it leaves to the collector, and
        the time with the collector paused (as `main.py` does) and running
  (ii)  pydantic's scan of installed distributions for plugins, which the service skips
  (iii) a full collection in a loaded process (the service, its database engine and Alembic
        imported): with everything frozen out of the collector, and without
  (iv)  importing LightGBM, which serving never does, against the NumPy forest serving uses
  (v)   compiling the champion's trees for the one-stone path (a model fitted on the public data
        set): in total and the longest piece, which is how long the compiling thread holds the
        interpreter at once
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from harness import REPO
from results import records

IMPORT_SERVICE = """
import gc, json, os, sys, time
if sys.argv[1] == "paused":
    gc.disable()
before = len(gc.get_objects())
started = time.perf_counter()
import functions.main
seconds = time.perf_counter() - started
gc.unfreeze()
print(json.dumps({"seconds": seconds, "objects": len(gc.get_objects()) - before}))
"""
PLUGIN_SCAN = """
import json, time
from pydantic.plugin._loader import get_plugins
started = time.perf_counter()
list(get_plugins())
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
FULL_COLLECTION = """
import gc, json, sys, tempfile, time
import functions.main
import alembic.command, alembic.script, sqlalchemy.dialects.postgresql
from functions.database import make_engine
make_engine(f"sqlite:///{tempfile.mkdtemp()}/diamonds.db").connect().close()
gc.unfreeze()
if sys.argv[1] == "frozen":
    gc.freeze()
tracked = len(gc.get_objects())
started = time.perf_counter()
gc.collect()
print(json.dumps({"seconds": time.perf_counter() - started, "objects": tracked}))
"""
IMPORT_MODULE = """
import json, sys, time
started = time.perf_counter()
__import__(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def fresh(source: str, argument: str, repeats: int, env: dict | None = None) -> dict:
    """The median of each figure `source` prints, over `repeats` fresh interpreters."""
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", source, argument],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(repeats)
    ]
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def compiling() -> tuple[float, float, int]:
    """Total and longest piece of compiling a model fitted on the public data set."""
    import training.forest
    from training.datasets import public_diamonds_path
    from training.features import feature_matrix
    from training.model import PriceModel
    from training.validation import read_records

    records = read_records(public_diamonds_path().read_bytes()).accepted
    model = PriceModel().fit(feature_matrix(records), records["price"].to_numpy(float))
    pieces: list[float] = []

    def timed(*args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        code = compile(*args, **kwargs)  # type: ignore[call-overload]
        pieces.append(time.perf_counter() - started)
        return code

    training.forest.compile = timed  # type: ignore[attr-defined]
    started = time.perf_counter()
    model.forest.compile_rows()
    return time.perf_counter() - started, max(pieces), len(pieces)


@records("startup", "Start-up and the garbage collector")
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n = args.repeats
    paused = fresh(IMPORT_SERVICE, "paused", n)
    running = fresh(IMPORT_SERVICE, "running", n)
    objects = f"{paused['objects']:,.0f} objects left to the collector"
    print(f"(i)   import functions.main: {objects}")
    print(f"      collector paused {paused['seconds'] * 1000:6.1f} ms")
    print(f"      collector running {running['seconds'] * 1000:6.1f} ms")
    scanning = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    scan = fresh(PLUGIN_SCAN, "", n, scanning)["seconds"]
    skipped = fresh(PLUGIN_SCAN, "", n, {**os.environ, "PYDANTIC_DISABLE_PLUGINS": "__all__"})
    print(
        f"(ii)  pydantic's plugin scan: {scan * 1000:.1f} ms, "
        f"skipped {skipped['seconds'] * 1000:.1f} ms"
    )
    frozen = fresh(FULL_COLLECTION, "frozen", n)
    walked = fresh(FULL_COLLECTION, "walked", n)
    print(
        f"(iii) a full collection, loaded process: {walked['objects']:,.0f} objects walked "
        f"in {walked['seconds'] * 1000:.1f} ms; frozen {frozen['seconds'] * 1000:.1f} ms"
    )
    lightgbm = fresh(IMPORT_MODULE, "lightgbm", n)["seconds"]
    forest = fresh(IMPORT_MODULE, "training.forest", n)["seconds"]
    print(
        f"(iv)  import lightgbm {lightgbm * 1000:.0f} ms; "
        f"import training.forest {forest * 1000:.0f} ms"
    )
    total, longest, pieces = compiling()
    print(
        f"(v)   compiling the trees: {total * 1000:.0f} ms in {pieces} pieces, "
        f"the longest {longest * 1000:.1f} ms"
    )
    print(f"{n} fresh interpreters per import figure, medians")


if __name__ == "__main__":
    main()
