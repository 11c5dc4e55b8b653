"""What a careless or hostile client gets from the running local stack (`diamonds serve` in a
temporary folder, folder + SQLite): one line per request, with its status and what it did. The
same requests against an older checkout (--checkout DIR) show what they got before.

    python benchmarks/hostile.py
    python benchmarks/hostile.py --checkout DIR
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import machine_load
from benchmarks.integrity import KEY, Stack, files

STONE = {
    "carat": 1.01,
    "cut": "Ideal",
    "color": "E",
    "clarity": "VS1",
    "depth": 61.5,
    "table": 57,
    "x": 6.44,
    "y": 6.47,
    "z": 3.97,
}
SLIP = {**STONE, "carat": 2.0, "y": 58.9}
SECRET = "s3cret-key-in-the-query"
AUTH = {"Authorization": f"Bearer {KEY}"}


def say(what: str, response: requests.Response, note: str = "") -> None:
    kind = response.headers.get("Content-Type", "").split(";")[0]
    print(f"   {what:<58} {response.status_code} {kind:<24} {note}")


def before_any_model(stack: Stack) -> None:
    print("\nbefore the first model serves")
    sent = requests.post(stack.url + "/v1/price", json=STONE, timeout=60)
    say("POST /v1/price, one stone", sent, f"Retry-After: {sent.headers.get('Retry-After')}")
    say(
        "POST /v1/price, a stone whose y is 58.9 mm",
        requests.post(stack.url + "/v1/price", json=SLIP, timeout=60),
    )


def hostile(stack: Stack, home: Path) -> None:
    url = stack.url
    print("\nonce a model serves")
    stones = requests.get(url + "/v1/diamonds?limit=3", timeout=60).json()["items"]
    first, second, third = (f"/v1/diamonds/{s['id']}" for s in stones)
    tiny = requests.patch(url + first, json={"price": 5e-324}, headers=AUTH, timeout=60)
    stored = requests.get(url + first, timeout=60).json()["price"]
    say("1. PATCH a stone's price to 5e-324", tiny, f"price stored: {stored}")

    bogus = requests.patch(
        url + second, json={"price": 900}, headers={**AUTH, "If-Match": '"bogus"'}, timeout=60
    )
    say('5. PATCH with If-Match: "bogus"', bogus)
    seen = requests.get(url + third, timeout=60)
    etag = seen.headers.get("ETag", '"1"')
    answers: list[int] = []
    barrier = threading.Barrier(2)

    def edit(price: int) -> None:
        barrier.wait()
        answers.append(
            requests.patch(
                url + third, json={"price": price}, headers={**AUTH, "If-Match": etag}, timeout=60
            ).status_code
        )

    workers = [threading.Thread(target=edit, args=(p,)) for p in (901, 902)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(f"   5. two clients PATCH the stone they read (ETag {etag}) at once: {sorted(answers)}")

    count = requests.get(url + "/v1/diamonds?limit=1", timeout=60).json()["total"]
    once = {**AUTH, "Idempotency-Key": "retry-17"}
    created = [
        requests.post(url + "/v1/diamonds", json={**STONE, "price": 6100}, headers=once, timeout=60)
        for _ in range(2)
    ]
    added = requests.get(url + "/v1/diamonds?limit=1", timeout=60).json()["total"] - count
    say("6. POST /v1/diamonds twice, same Idempotency-Key", created[1], f"stones added: {added}")

    repeated = json.dumps(STONE)[:-1] + ', "color": "J"}'
    sent = requests.post(
        url + "/v1/price", data=repeated, headers={"Content-Type": "application/json"}, timeout=60
    )
    say(
        '7. POST /v1/price with "color" twice (E, then J)',
        sent,
        f"price: {sent.json().get('price')}",
    )
    query = "&".join(f"{k}={v}" for k, v in STONE.items())
    say(
        f"7. GET /v1/price?...&key={SECRET}",
        requests.get(f"{url}/v1/price?{query}&key={SECRET}", timeout=60),
    )
    time.sleep(2)
    database = sqlite3.connect(home / ".diamonds" / "diamonds.db")
    logged = database.execute(
        "SELECT count(*) FROM prediction_log WHERE request LIKE ?", (f"%{SECRET}%",)
    ).fetchone()[0]
    in_access_log = SECRET in "".join(stack.output)
    print(
        f"      the key: in the prediction log {logged} row(s), in the access log {in_access_log}"
    )
    run = requests.post(url + "/v1/retrain", json={}, headers=AUTH, timeout=60).json()
    anonymous = requests.get(url + f"/v1/runs/{run['run_id']}", timeout=60)
    record = anonymous.json()
    shown = "file://" in anonymous.text
    print(f"      anonymous GET /v1/runs/<id>: storage path shown {shown}; ", end="")
    print(f"requested_by {record.get('requested_by')}")
    stack.idle()

    many = [{**STONE, "carat": round(1.0 + i / 500_000, 6)} for i in range(10_000)]
    started = time.monotonic()
    heavy = requests.post(url + "/v1/price?explain=true&comparables=20", json=many, timeout=600)
    say(
        "8. POST /v1/price?explain=true&comparables=20, 10,000",
        heavy,
        f"{len(heavy.content):,} bytes in {time.monotonic() - started:.1f} s",
    )
    wire = requests.post(
        url + "/v1/price", json=many, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=600
    )
    body = wire.raw.read()
    say(
        "8. POST /v1/price, 10,000 stones, Accept-Encoding: gzip",
        wire,
        f"{len(body):,} bytes on the wire ({wire.headers.get('Content-Encoding', 'identity')})",
    )
    zipped = requests.post(
        url + "/v1/price",
        data=gzip.compress(json.dumps(STONE).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=60,
    )
    say("8. POST /v1/price, a gzip body", zipped, zipped.json().get("detail", "")[:40])
    say(
        "8. POST /v1/price, Accept: text/csv",
        requests.post(url + "/v1/price", json=STONE, headers={"Accept": "text/csv"}, timeout=60),
    )
    say(
        "9. GET with a 70,000-byte query",
        requests.get(url + "/v1/price?x=" + "y" * 70_000, timeout=60),
    )
    say(
        "9. GET with 120 headers",
        requests.get(url + "/healthz", headers={f"X-{i}": "v" for i in range(120)}, timeout=60),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", help="run this checkout's code instead of this one's")
    args = parser.parse_args()
    args.emulate_gcp = False
    print(f"{machine_load()}; code: {args.checkout or 'this checkout'}")
    seed, _, _ = files()
    with tempfile.TemporaryDirectory(prefix="diamonds-hostile-") as folder:
        home = Path(folder)
        (home / "seed.csv").write_bytes(seed)
        stack = Stack(home, args, home / "seed.csv")
        try:
            before_any_model(stack)
            stack.wait(lambda: stack.get("/v1/models")["champion"], every=0.5)
            stack.idle()
            hostile(stack, home)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
