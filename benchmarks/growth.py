"""The pipeline as the inventory grows: a new 5,000-stone file → its champion serving prices,
and the training run's peak memory, at each inventory size; before and after a change.

At each size a local stack (folder + SQLite) is seeded with an inventory grown from the public
data set (training.datasets.grown_inventory) and trains its first champion on it; then a file
of 5,000 fresh stones is dropped into incoming/. Printed for each: the time from the drop to
the new champion serving prices, where it went, the peak memory of the training runs (the
kernel's high-water mark of the process's resident memory, read while it runs), and the new
champion's MAPE and 90% interval coverage on 5,000 further stones no version ever saw.

With --before REV the same is measured for the code of that git revision (exported to a
temporary folder and run from there), alternating at each size which of the two goes first,
so that both meet the same load of the machine. --plot writes the curves as a PNG.

    python benchmarks/growth.py --before main --plot docs/images/pipeline-growth.png
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import REPO, machine_load
from benchmarks.pipeline import Stack, new_champion, stones_csv
from benchmarks.results import records

FILE_STONES = 5000
TEST_STONES = 5000
SIZES = (60_000, 250_000, 500_000)


class PeakMemory:
    """The largest resident memory (VmHWM) of each training process whose command line names
    `home`, by run id, sampled from /proc until stopped."""

    def __init__(self, home: Path) -> None:
        self.home, self.peaks = str(home), {}
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            for process in Path("/proc").glob("[0-9]*"):
                try:
                    argv = (process / "cmdline").read_bytes().split(b"\0")
                    if b"training" not in argv or self.home.encode() not in b" ".join(argv):
                        continue
                    run_id = argv[argv.index(b"--run-id") + 1].decode()
                    status = (process / "status").read_text()
                except (OSError, ValueError, IndexError):
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        peak = int(line.split()[1]) * 1024
                        self.peaks[run_id] = max(self.peaks.get(run_id, 0), peak)

    def stop(self) -> None:
        self._stop.set()


def export(revision: str, folder: Path) -> Path:
    """The Python packages of a git revision (training, functions, local), in `folder`."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-tree", "--name-only", revision],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    packages = [name for name in ("training", "functions", "local") if name in listed]
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, *packages],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def measure(size: int, inventory, fresh, tests, code: Path | None) -> dict:
    """One stack at one size: seeded, its first champion, then the fresh file's."""
    from training.evaluation import metrics
    from training.features import feature_matrix
    from training.registry import Registry
    from training.storage import open_storage

    with tempfile.TemporaryDirectory(prefix="diamonds-growth-") as folder:
        home = Path(folder)
        seed = home / "seed.csv"
        seed.write_bytes(stones_csv(inventory))
        memory = PeakMemory(home)
        stack = Stack(home, False, seed, code)
        try:
            stack.wait(stack.banner.is_set)
            stack.wait(lambda: stack.get("/v1/models")["champion"], seconds=1800, every=0.5)
            first = stack.idle()["runs"][-1]
            load = machine_load()
            found = new_champion(stack, fresh)
            registry = Registry(open_storage((home / ".diamonds" / "models").as_uri()))
            model, metadata = registry.load(registry.champion()["version"])
        finally:
            stack.stop()
            memory.stop()
    X = feature_matrix(tests)
    predicted = model.predict(X)
    unseen = metrics(tests["price"].to_numpy(float), predicted, *model.interval(X, predicted))
    run = found["run"]
    return {
        "size": size,
        "code": "before" if code else "after",
        "load": load,
        "t": found["t"],
        "stages": run["stages"],
        "peak": memory.peaks.get(run["run_id"], 0),
        "first_peak": memory.peaks.get(first, 0),
        "mape": unseen["mape"],
        "coverage": unseen["coverage"],
        "cv": metadata["metrics"]["cross_validation"],
        "gate": run["gate"]["reason"],
    }


def report(result: dict) -> None:
    t, stages = result["t"], result["stages"]
    ingest = {
        "delivery": t["claimed"] - t["dropped"],
        "store": t["stored"] - t["claimed"],
        "score": t["scored"] - t["stored"],
        "snapshot": t["ingested"] - t["scored"],
        "start": t["started"] - t["ingested"],
    }
    print(
        f"{result['size']:>8,} {result['code']:<7} {t['served'] - t['dropped']:6.1f} s: "
        + ", ".join(f"{name} {seconds:4.1f}" for name, seconds in ingest.items())
        + "; training "
        + ", ".join(f"{name} {stages.get(name, 0):4.1f}" for name in stages)
        + f"; serving {t['served'] - t['finished']:4.1f}; "
        f"peak {result['peak'] / 2**30:4.2f} GB "
        f"(first run {result['first_peak'] / 2**30:4.2f} GB); "
        f"MAPE {result['mape']:.3f}%, coverage {result['coverage']:.1%} on {TEST_STONES:,} "
        f"unseen stones; {result['load']}",
        flush=True,
    )
    cv = result["cv"]
    print(
        f"{'':17} CV MAPE {cv['mape']:.2f}% on {cv['n']:,} stones; gate: {result['gate']}",
        flush=True,
    )


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (seconds, memory) = plt.subplots(1, 2, figsize=(8, 3), dpi=100)
    for code, style in (("before", "o--"), ("after", "o-")):
        mine = sorted((r for r in results if r["code"] == code), key=lambda r: r["size"])
        if not mine:
            continue
        sizes = [r["size"] / 1000 for r in mine]
        seconds.plot(sizes, [r["t"]["served"] - r["t"]["dropped"] for r in mine], style, label=code)
        memory.plot(sizes, [r["peak"] / 2**30 for r in mine], style, label=code)
    seconds.set(xlabel="inventory (thousand stones)", ylabel="s", title="new file → champion")
    memory.set(xlabel="inventory (thousand stones)", ylabel="GB", title="training run peak")
    for axes in (seconds, memory):
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot: {path}")


@records("growth", "The pace as the inventory grows")
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--before", metavar="REV", help="also measure this git revision")
    parser.add_argument("--plot", type=Path, metavar="PNG")
    args = parser.parse_args()
    from training.datasets import grown_inventory

    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"{machine_load()}; stack: folder + SQLite")
    results = []
    with tempfile.TemporaryDirectory(prefix="diamonds-before-") as folder:
        codes: list[Path | None] = [None]
        if args.before:
            codes.append(export(args.before, Path(folder)))
            print(f"before: {args.before}; after: this checkout")
        for i, size in enumerate(sizes):
            stones = grown_inventory(size + FILE_STONES + TEST_STONES, seed=size)
            inventory, fresh = stones.iloc[:size], stones.iloc[size : size + FILE_STONES]
            tests = stones.iloc[size + FILE_STONES :]
            for code in codes if i % 2 == 0 else codes[::-1]:
                started = time.monotonic()
                result = measure(size, inventory, fresh, tests, code)
                report(result)
                print(f"{'':17} (stack seeded and measured in {time.monotonic() - started:.0f} s)")
                results.append(result)
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
