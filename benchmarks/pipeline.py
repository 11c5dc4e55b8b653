"""The retraining pipeline on the running local stack (`diamonds serve`, in a temporary folder).

1. Fresh appraisals: the stack is seeded with the public data set minus 5,000 stones held
   back; those stones, which the champion never saw, are then dropped into incoming/ as one
   file. Prints where the time goes until the new champion serves prices (detection, ingest,
   training by stage, gate, reload) and the champion's error on the new stones.
2. Ten files dropped at once: each ingested once, and how many training runs they cause.
3. Twenty POST /v1/retrain within two seconds: the answers, and how many runs.
4. One event delivered five times at once: one ingestion, the inventory counts unchanged.

    python benchmarks/pipeline.py                  # SQLite, a local folder
    DIAMONDS_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        python benchmarks/pipeline.py --emulate-gcp # an empty PostgreSQL database, GCS emulator
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
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import console_script, free_port, machine_load

HELD_BACK = 5000
SPARE = 1300
"""Further stones held back for the ten files (1,000) and the five deliveries (300)."""
KEY = "bench-write-key-0123456789"


def stones_csv(stones) -> bytes:
    from training.record import COLUMNS

    text = io.StringIO()
    stones[list(COLUMNS)].to_csv(text, index=False)
    return text.getvalue().encode()


def split_public(seed: int = 7):
    """The valid public stones but HELD_BACK + SPARE of them, and those held back."""
    from training.datasets import public_diamonds_path
    from training.validation import read_records

    stones = read_records(public_diamonds_path().read_bytes()).accepted.drop(columns="line")
    held = stones.sample(HELD_BACK + SPARE, random_state=seed)
    return stones.drop(held.index), held


def when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Stack:
    """`diamonds serve` in `home`, seeded with the file `seed`; with `code`, the code of that
    folder (an exported revision) runs instead of this checkout's."""

    def __init__(self, home: Path, emulate_gcp: bool, seed: Path, code: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIAMONDS_")}
        env["DIAMONDS_API_KEYS"] = KEY
        if code is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
        if os.environ.get("DIAMONDS_DATABASE_URL"):
            env["DIAMONDS_DATABASE_URL"] = os.environ["DIAMONDS_DATABASE_URL"]
        command = [console_script("diamonds"), "serve", "--port", str(self.port)]
        command += ["--seed", str(seed)]
        self.process = subprocess.Popen(
            command + (["--emulate-gcp"] if emulate_gcp else []),
            cwd=home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self.banner = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if "Ctrl-C stops everything" in line:
                self.banner.set()

    def said(self, pattern: str) -> str:
        return re.search(pattern, "".join(self.output)).group(1)

    def get(self, path: str) -> dict:
        return requests.get(self.url + path, timeout=60).json()

    def wait(self, condition, seconds: float = 900, every: float = 0.1):
        deadline = time.monotonic() + seconds
        while not (result := condition()):
            if time.monotonic() > deadline:
                raise SystemExit("timed out; the stack said:\n" + "".join(self.output[-40:]))
            time.sleep(every)
        return result

    def idle(self) -> dict:
        return self.wait(lambda: (r := self.get("/v1/runs"))["running"] is None and r, every=0.5)

    def ledger(self) -> list[dict]:
        return self.get("/v1/ingestions?limit=500")["items"]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def storage_of(stack: Stack):
    from training.storage import open_storage

    if "STORAGE_EMULATOR_HOST=" in "".join(stack.output):
        os.environ["STORAGE_EMULATOR_HOST"] = stack.said(r"STORAGE_EMULATOR_HOST=(\S+)")
    return open_storage(stack.said(r"data +(\S+)/incoming/"))


def new_champion(stack: Stack, held) -> dict:
    """Drop the stones `held` into incoming/ as one file and wait until a new champion prices:
    the moments along the way (`t`, epoch seconds), the run's record and the ledger's row."""
    data = storage_of(stack)
    before = stack.get("/v1/models")["champion"]
    stone = held.iloc[0]
    body = {k: (str(v) if k in ("cut", "color", "clarity") else float(v)) for k, v in stone.items()}
    body.pop("price")
    dropped = time.time()
    data.write("incoming/appraisals.csv", stones_csv(held))
    row = stack.wait(
        lambda: next(
            (r for r in stack.ledger() if r["name"].endswith("appraisals.csv") and r["run_id"]),
            None,
        )
    )
    version = stack.wait(
        lambda: (v := stack.get("/v1/models")["champion"]) != before and v, every=0.05
    )
    served = stack.wait(
        lambda: (
            requests.post(stack.url + "/v1/price", json=body, timeout=60).json()["model_version"]
            == version
            and time.time()
        ),
        every=0.05,
    )
    run = stack.get(f"/v1/runs/{row['run_id']}")
    t = {
        "dropped": dropped,
        "claimed": when(row["received_at"]),
        "stored": when(row["stored_at"]),
        "scored": when(row["scored_at"]),
        "ingested": when(row["finished_at"]),
        "started": when(run["started_at"]),
        "finished": when(run["finished_at"]),
        "served": served,
    }
    return {"t": t, "run": run, "row": row, "before": before}


def fresh_appraisals(stack: Stack, held) -> None:
    found = new_champion(stack, held)
    t, run, row, before = found["t"], found["run"], found["row"], found["before"]
    dropped, served = t["dropped"], t["served"]
    stages = run["stages"]
    print(f"\n1. {HELD_BACK:,} fresh appraisals dropped into incoming/ → new champion serving")
    print(f"   file dropped → delivered (watcher)      {t['claimed'] - dropped:6.2f} s")
    print(f"   validate + quarantine + store            {t['stored'] - t['claimed']:6.2f} s")
    print(f"   score the champion                       {t['scored'] - t['stored']:6.2f} s")
    print(f"   snapshot + ask for a run + job start     {t['ingested'] - t['scored']:6.2f} s")
    print(f"   training process start → first stage     {t['started'] - t['ingested']:6.2f} s")
    for name in ("read", "validate", "evaluate", "fit", "register", "gate"):
        print(f"   training: {name:<30} {stages.get(name, 0):6.2f} s")
    bookkeeping = t["finished"] - t["started"] - sum(stages.values())
    print(f"   between stages, run recorded             {bookkeeping:6.2f} s")
    print(f"   run recorded → pricing serves it         {served - t['finished']:6.2f} s")
    print(f"   total                                    {served - dropped:6.2f} s")
    print(
        f"   ledger: {row['rows_read']} read, {row['accepted']} accepted, {row['inserted']} new; "
        f"champion {before} MAPE {row['champion_mape']:.2f}% on {row['champion_scored']} "
        f"stones it never saw; gate: {run['gate']['decision']} ({run['gate']['reason']})"
    )


def ten_files(stack: Stack, fresh) -> None:
    stack.idle()
    runs_before = set(stack.get("/v1/runs")["runs"])
    data = storage_of(stack)
    for i in range(10):
        data.write(f"incoming/ten/{i:02}.csv", stones_csv(fresh.iloc[100 * i : 100 * (i + 1)]))
    rows = stack.wait(
        lambda: (
            len(r := [x for x in stack.ledger() if "/ten/" in x["name"]]) == 10
            and all(x["status"] == "done" for x in r)
            and r
        )
    )
    stack.idle()
    runs = set(stack.get("/v1/runs")["runs"]) - runs_before
    print("\n2. ten files dropped at once")
    print(
        f"   ledger rows {len(rows)}, attempts {Counter(r['attempts'] for r in rows)}, "
        f"stones new {sum(r['inserted'] for r in rows)}; training runs {len(runs)}"
    )


def twenty_retrains(stack: Stack) -> None:
    stack.idle()
    runs_before = set(stack.get("/v1/runs")["runs"])
    answers: list[requests.Response] = []
    started = time.monotonic()

    def call() -> None:
        answers.append(
            requests.post(
                stack.url + "/v1/retrain",
                json={},
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=60,
            )
        )

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spread = time.monotonic() - started
    stack.idle()
    runs = set(stack.get("/v1/runs")["runs"]) - runs_before
    statuses = [stack.get(f"/v1/runs/{r}")["status"] for r in sorted(runs)]
    print("\n3. twenty POST /v1/retrain at once")
    print(
        f"   answered in {spread:.2f} s: {Counter(a.status_code for a in answers)}; "
        f"coalesced {sum(a.json().get('coalesced', False) for a in answers)}; "
        f"training runs {len(runs)} ({', '.join(statuses)})"
    )


def five_deliveries(stack: Stack, fresh) -> None:
    from local.eventarc import event_for

    stack.idle()
    data = storage_of(stack)
    key = "incoming/five.csv"
    content = stones_csv(fresh)
    data.write(key, content)
    obj = next(o for o in data.objects(key) if o.key == key)
    count = stack.get("/v1/diamonds?limit=1")["total"]
    ingest = stack.said(r"ingest +(\S+) ")
    headers, body = event_for(data, obj)
    answers: list[int] = []
    barrier = threading.Barrier(5)

    def send() -> None:
        barrier.wait()
        answers.append(requests.post(ingest, data=body, headers=headers, timeout=120).status_code)

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = stack.wait(
        lambda: next((r for r in stack.ledger() if r["name"].endswith("five.csv")), None)
    )
    stack.wait(lambda: (r := stack.get("/v1/diamonds?limit=1"))["total"] >= count + 300 and r)
    total = stack.get("/v1/diamonds?limit=1")["total"]
    stack.idle()
    print("\n4. the same event delivered five times at once (the watcher's own delivery too)")
    print(
        f"   answers {sorted(answers)}; ledger attempts {row['attempts']}, new {row['inserted']}; "
        f"inventory {count} → {total} (+{total - count} for 300 stones)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulate-gcp", action="store_true")
    args = parser.parse_args()
    kind = "GCS emulator + PostgreSQL" if args.emulate_gcp else "folder + SQLite"
    print(f"{machine_load()}; stack: {kind}")
    rest, held = split_public()
    with tempfile.TemporaryDirectory(prefix="diamonds-pipeline-") as home:
        seed = Path(home) / "seed.csv"
        seed.write_bytes(stones_csv(rest))
        stack = Stack(Path(home), args.emulate_gcp, seed)
        try:
            stack.wait(stack.banner.is_set)
            if "seeding:" not in "".join(stack.output):
                raise SystemExit("the benchmark needs an empty inventory: use a new database")
            stack.wait(lambda: stack.get("/v1/models")["champion"], every=0.5)
            stack.idle()
            print(f"seeded with {len(rest):,} public stones; the first champion trained on them")
            fresh_appraisals(stack, held.iloc[:HELD_BACK])
            ten_files(stack, held.iloc[HELD_BACK : HELD_BACK + 1000])
            twenty_retrains(stack)
            five_deliveries(stack, held.iloc[HELD_BACK + 1000 :])
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
