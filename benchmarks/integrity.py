"""Replays of what once stored data wrong, on the running local stack (`diamonds serve` in a
temporary folder), each followed by a comparison of the inventory with what the files bring,
stone by stone (not only counts):

1. a slow copy: a 60,000-stone file copied into incoming/ in eight pieces with a 1.5 s pause
   after each, one piece ending inside a price (the last column);
2. a crash: the stack killed with SIGKILL, with all it started, while it ingests a file, then
   started again: how long until the file is ingested, and by how many deliveries;
3. a corrected file: a 97-stone file, then the same name again with ten prices corrected and two
   stones withdrawn, then the file deleted: what the ledger says each time.

    python benchmarks/integrity.py                  # a local folder, SQLite
    DIAMONDS_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench2 \\
        python benchmarks/integrity.py --emulate-gcp # GCS emulator, an empty PostgreSQL database
    python benchmarks/integrity.py --checkout DIR   # the code of another checkout (an older one)
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import console_script, free_port, machine_load

KEY = "bench-write-key-0123456789"
SEEDED, COPIED, CRASHED, CORRECTED = 3000, 60_000, 40_000, 97
PIECES, PAUSE = 8, 1.5


def stones_csv(stones) -> bytes:
    from training.record import COLUMNS

    text = io.StringIO()
    stones[list(COLUMNS)].to_csv(text, index=False)
    return text.getvalue().encode()


def files() -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """The seed, the slowly copied file, the file ingested during the crash and a file with its
    corrected generation (ten prices moved, the last two stones gone): public stones, all but
    the seed's with prices moved by a few cents so that every stone is new."""
    from training.datasets import public_diamonds_path
    from training.validation import read_records

    stones = read_records(public_diamonds_path().read_bytes()).accepted.drop(columns="line")
    stones = stones.sample(frac=1.0, random_state=11).reset_index(drop=True)
    copied = stones.sample(COPIED, replace=True, random_state=12).reset_index(drop=True)
    copied["price"] = copied["price"] + 0.01 * (copied.index % 97 + 1)
    crashed = stones.sample(CRASHED, replace=True, random_state=13).reset_index(drop=True)
    crashed["price"] = crashed["price"] + 0.01 * (crashed.index % 89 + 1) + 0.001
    first = stones.iloc[-CORRECTED:].reset_index(drop=True)
    first["price"] = first["price"] + 0.005
    corrected = first.iloc[:-2].copy()
    corrected.loc[:9, "price"] = corrected.loc[:9, "price"] + 100
    return (
        stones_csv(stones.iloc[:SEEDED]),
        stones_csv(copied),
        stones_csv(crashed),
        stones_csv(first),
        stones_csv(corrected),
    )


def accepted(data: bytes) -> set[tuple]:
    from training.record import COLUMNS
    from training.validation import read_records

    rows = read_records(data).accepted[list(COLUMNS)].itertuples(index=False, name=None)
    return {stone(row) for row in rows}


def stone(values) -> tuple:
    return tuple(v if isinstance(v, str) else round(float(v), 6) for v in values)


class Stack:
    """`diamonds serve` in its own process group (so that a kill takes all it started)."""

    def __init__(self, home: Path, args: argparse.Namespace, seed: Path) -> None:
        self.home, self.args, self.seed = home, args, seed
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self.start()

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIAMONDS_")}
        env["DIAMONDS_API_KEYS"] = KEY
        if os.environ.get("DIAMONDS_DATABASE_URL"):
            env["DIAMONDS_DATABASE_URL"] = os.environ["DIAMONDS_DATABASE_URL"]
        command = [console_script("diamonds"), "serve", "--port", str(self.port)]
        command += ["--seed", str(self.seed)] + (["--emulate-gcp"] if self.args.emulate_gcp else [])
        if self.args.checkout:  # an older checkout: its own serve, whatever its package layout
            env["PYTHONPATH"] = str(Path(self.args.checkout).resolve())
            serve = (
                "local.serve"
                if (Path(self.args.checkout) / "local").is_dir()
                else "functions.serve"
            )
            seed = str(self.seed)
            start = f"serve('127.0.0.1', {self.port}, {self.args.emulate_gcp}, Path({seed!r}))"
            command = [
                sys.executable,
                "-c",
                f"from pathlib import Path; from {serve} import serve; {start}",
            ]
        self.process = subprocess.Popen(
            command,
            cwd=self.home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(
            target=lambda: self.output.extend(self.process.stdout), daemon=True
        ).start()
        self.wait(lambda: "Ctrl-C stops everything" in "".join(self.output))

    def said(self, pattern: str) -> str:
        return re.findall(pattern, "".join(self.output))[-1]

    def get(self, path: str) -> dict:
        headers = {"Authorization": f"Bearer {KEY}"}
        return requests.get(self.url + path, headers=headers, timeout=60).json()

    def wait(self, condition, seconds: float = 900, every: float = 0.2):
        deadline = time.monotonic() + seconds
        while True:
            try:
                if result := condition():
                    return result
            except requests.ConnectionError:
                if self.process.poll() is not None:
                    raise SystemExit("the stack stopped:\n" + "".join(self.output[-40:])) from None
            if time.monotonic() > deadline:
                raise SystemExit("timed out; the stack said:\n" + "".join(self.output[-40:]))
            time.sleep(every)

    def idle(self) -> None:
        self.wait(lambda: (r := self.get("/v1/runs"))["running"] is None and r["queued"] is None)

    def ledger(self, name: str) -> list[dict]:
        return [
            r for r in self.get("/v1/ingestions?limit=500")["items"] if r["name"].endswith(name)
        ]

    def inventory(self) -> Counter:
        from training.record import COLUMNS

        found, cursor = Counter(), ""
        while True:
            page = self.get(f"/v1/diamonds?limit=1000{cursor}")
            found.update(stone(item[c] for c in COLUMNS) for item in page["items"])
            if page["next_cursor"] is None:
                return found
            cursor = f"&cursor={page['next_cursor']}"

    def storage(self):
        from training.storage import open_storage

        if "STORAGE_EMULATOR_HOST=" in "".join(self.output):
            os.environ["STORAGE_EMULATOR_HOST"] = self.said(r"STORAGE_EMULATOR_HOST=(\S+)")
        return open_storage(self.said(r"data +(\S+)/incoming/"))

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def compare(stack: Stack, expected: set[tuple]) -> str:
    found = stack.inventory()
    missing = sum(1 for s in expected if s not in found)
    extra = sum(n for s, n in found.items() if s not in expected)
    twice = sum(n - 1 for s, n in found.items() if n > 1)
    verdict = "EQUAL" if not (missing or extra or twice) else "DIFFERENT"
    return (
        f"inventory {sum(found.values()):,} stones vs the files' {len(expected):,} accepted: "
        f"{verdict} (missing {missing:,}, not in any file {extra:,}, stored twice {twice:,})"
    )


def slow_copy(stack: Stack, data: bytes) -> None:
    storage = stack.storage()
    runs_before = set(stack.get("/v1/runs")["runs"])
    cuts = [len(data) * i // PIECES for i in range(1, PIECES)]
    line_end = data.index(b"\n", cuts[len(cuts) // 2])
    cuts[len(cuts) // 2] = data.rindex(b",", 0, line_end) + 4  # 4523.41 would be read as 452
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    started = time.monotonic()
    if hasattr(storage, "root"):
        path = storage.root / "incoming" / "slow.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as copy:
            for piece in pieces:
                copy.write(piece)
                copy.flush()
                time.sleep(PAUSE)
    else:
        _resumable_upload(storage, "incoming/slow.csv", pieces)
    stack.wait(lambda: any(r["status"] == "done" for r in stack.ledger("slow.csv")))
    time.sleep(3)
    stack.idle()
    rows = stack.ledger("slow.csv")
    runs = set(stack.get("/v1/runs")["runs"]) - runs_before
    reports = [k for k in storage.list("quarantine/") if "slow" in k and k.endswith(".json")]
    print(
        f"\n1. a {COPIED:,}-stone file copied in {PIECES} pieces with {PAUSE} s pauses "
        f"({time.monotonic() - started:.0f} s until ingested)"
    )
    print(
        f"   ingestions of it {len(rows)} ({Counter(r['status'] for r in rows)}), "
        f"rows read {[r['rows_read'] for r in rows]}, quarantine reports {len(reports)}, "
        f"training runs {len(runs)}"
    )


def _resumable_upload(storage, key: str, pieces: list[bytes]) -> None:
    """An upload in pieces, as gcloud sends a large file: the object exists once it is whole."""
    bucket, name = storage.location(key)
    host = os.environ["STORAGE_EMULATOR_HOST"]
    session = requests.post(
        f"{host}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&name={name}", timeout=60
    ).headers["Location"]
    total, sent = sum(map(len, pieces)), 0
    for i, piece in enumerate(pieces):
        end = sent + len(piece) - 1
        size = str(total) if i == len(pieces) - 1 else "*"
        requests.put(
            session, data=piece, headers={"Content-Range": f"bytes {sent}-{end}/{size}"}, timeout=60
        )
        sent = end + 1
        time.sleep(PAUSE)


def crash(stack: Stack, data: bytes) -> None:
    storage = stack.storage()
    storage.write("incoming/crash.csv", data)
    stack.wait(
        lambda: any(r["status"] == "processing" for r in stack.ledger("crash.csv")), every=0.02
    )
    stack.kill()
    restarted = time.monotonic()
    stack.start()
    stack.wait(lambda: any(r["attempts"] > 1 for r in stack.ledger("crash.csv")), every=0.2)
    taken = time.monotonic() - restarted
    row = stack.wait(
        lambda: next((r for r in stack.ledger("crash.csv") if r["status"] == "done"), None),
        every=0.5,
    )
    done = time.monotonic() - restarted
    stack.idle()
    print(f"\n2. the stack killed (SIGKILL) while it ingested a {CRASHED:,}-stone file, restarted")
    print(
        f"   taken over {taken:.0f} s after the restart, ingested after {done:.0f} s, "
        f"in {row['attempts']} deliveries"
    )


def correct(stack: Stack, first: bytes, corrected: bytes, expected: set[tuple]) -> None:
    storage = stack.storage()
    print(f"\n3. a {CORRECTED}-stone file, then its generation with 10 prices corrected and 2 gone")
    for data, done in ((first, 1), (corrected, 2)):
        storage.write("incoming/corrected.csv", data)
        stack.wait(
            lambda done=done: (
                sum(r["status"] == "done" for r in stack.ledger("corrected.csv")) >= done
            )
        )
        stack.idle()
    print("   ledger, newest first: " + "; ".join(map(_counts, stack.ledger("corrected.csv"))))
    print("   " + compare(stack, expected | accepted(corrected)))
    _delete(storage, "incoming/corrected.csv")
    try:
        stack.wait(lambda: len(stack.ledger("corrected.csv")) > 2, seconds=60)
    except SystemExit:
        print("   deleted: no ledger entry within 60 s")
    else:
        stack.wait(lambda: stack.ledger("corrected.csv")[0]["status"] != "processing")
        stack.idle()
        print("   deleted: " + _counts(stack.ledger("corrected.csv")[0]))
    print("   " + compare(stack, expected))


def _delete(storage, key: str) -> None:
    if hasattr(storage, "root"):
        (storage.root / key).unlink()
        return
    bucket, name = storage.location(key)
    host = os.environ["STORAGE_EMULATOR_HOST"]
    quoted = requests.utils.quote(name, safe="")
    requests.delete(f"{host}/storage/v1/b/{bucket}/o/{quoted}", timeout=60).raise_for_status()


def _counts(row: dict) -> str:
    names = ("event", "inserted", "unchanged", "changed", "withdrawn")
    return ", ".join(f"{name} {row[name]}" for name in names if name in row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulate-gcp", action="store_true")
    parser.add_argument("--checkout", help="run this checkout's code instead of this one's")
    args = parser.parse_args()
    kind = "GCS emulator + PostgreSQL" if args.emulate_gcp else "folder + SQLite"
    print(f"{machine_load()}; stack: {kind}; code: {args.checkout or 'this checkout'}")
    seed, copied, crashed, first, corrected = files()
    with tempfile.TemporaryDirectory(prefix="diamonds-integrity-") as home:
        (Path(home) / "seed.csv").write_bytes(seed)
        stack = Stack(Path(home), args, Path(home) / "seed.csv")
        try:
            stack.wait(lambda: stack.get("/v1/models")["champion"], every=0.5)
            stack.idle()
            slow_copy(stack, copied)
            print("   " + compare(stack, accepted(seed) | accepted(copied)))
            crash(stack, crashed)
            expected = accepted(seed) | accepted(copied) | accepted(crashed)
            print("   " + compare(stack, expected))
            correct(stack, first, corrected, expected)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
