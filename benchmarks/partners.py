"""Partners' keys, limits and usage: what they add to a request, and that they hold.

    python benchmarks/partners.py [CSV] [--seconds 10] [--repeats 3] [--requests 10000]

In a temp environment (benchmarks/harness.py: a champion, a migrated SQLite database) holding
1,000 partners and 10,000 keys:

  (i)   the time the HTTP layer adds for a partner's key: identification (the key found among
        10,000 and its secret checked), the minute and the month, and the usage counted,
        in process over 20,000 requests with keys drawn at random: p50 and p99 in µs
  (ii)  throughput at 16 connections of the pricing function under functions-framework, a
        partner's key on every request (checked, limited, its usage counted) vs no key (nothing
        checked or counted), and the bare handler, alternated, median of --repeats runs
  (iii) 10 partners sending --requests each at once, one connection each: the usage each has in
        the database afterwards equals what it sent, to the request; no 5xx
  (iv)  revocation: the models function (a second process) revokes a key; the time until the
        pricing function answers it 401
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import threading
import time
from datetime import UTC, datetime

from harness import (
    BARE_SOURCE,
    Environment,
    Server,
    console_script,
    default_csv,
    free_port,
    load,
    machine_load,
    median,
    ours_command,
    running,
    server_env,
    valid_stones,
)
from results import records

PARTNERS, KEYS = 1_000, 10_000
CONNECTIONS = 16
CONFIG = (2, 1)
ADMIN_KEY = "bench-admin-key-" + "x" * 16
TARGETS = {"added p50 µs": 100.0, "on vs off %": 10.0, "share of bare %": 70.0, "revoked s": 10.0}


def fill(database_url: str) -> list[str]:
    """1,000 partners, 10 keys each; the keys, as their holders have them."""
    import sqlalchemy as sa

    from functions.database import make_engine
    from functions.database.tables import API_KEYS
    from functions.database.tables import PARTNERS as PARTNER_ROWS
    from functions.http.keys import digest, new_key

    engine = make_engine(database_url)
    now = datetime.now(UTC)
    keys, rows = [], []
    for number in range(KEYS):
        key_id, secret, key = new_key()
        keys.append(key)
        rows.append(
            {
                "id": key_id,
                "partner": f"partner-{number % PARTNERS:04d}",
                "secret_sha256": digest(secret),
                "scopes": "price",
                "created_at": now,
                "changed_at": now,
            }
        )
    partners = [
        {
            "name": f"partner-{number:04d}",
            "contact": "ops@example.com",
            "requests_per_minute": 10_000_000,
            "stones_per_month": 10**12,
            "scopes": "price",
            "created_at": now,
            "changed_at": now,
        }
        for number in range(PARTNERS)
    ]
    with engine.begin() as connection:
        connection.execute(sa.insert(PARTNER_ROWS), partners)
        connection.execute(sa.insert(API_KEYS), rows)
    engine.dispose()
    return keys


def added_time(database_url: str, keys: list[str]) -> tuple[list[float], list[float]]:
    """µs per request of the access layer: a partner's key, and an anonymous call."""
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from functions.http.keys import PRICE
    from functions.instance import Instance
    from functions.settings import ServiceSettings

    instance = Instance(ServiceSettings(database_url=database_url))
    access = instance.access
    requests = [
        Request(
            EnvironBuilder(
                path="/v1/price", method="POST", headers={"Authorization": f"Bearer {key}"}
            ).get_environ()
        )
        for key in random.sample(keys, 2_000)
    ]
    anonymous = Request(EnvironBuilder(path="/v1/price", method="POST").get_environ())

    def once(request: Request) -> float:
        started = time.perf_counter_ns()
        principal = access.identify(request, (), public=False, key_required=False)
        access.admit(principal, PRICE)
        access.limits.take_stones(principal, 1)
        access.count(principal, "POST /v1/price", 200, 1, 1.0)
        return (time.perf_counter_ns() - started) / 1000

    once(requests[0])  # the keys loaded
    keyed = [once(random.choice(requests)) for _ in range(20_000)]
    plain = [once(anonymous) for _ in range(20_000)]
    access.meter.flush()
    return keyed, plain


def serving(env: dict, source: str | None = None):
    """A factory of the pricing function's server (or the bare handler's, from `source`)."""
    return lambda port: Server(
        ours_command(port) if source is None else ours_command(port, source),
        server_env(env, *CONFIG),
        port,
    )


def post(connection: http.client.HTTPConnection, body: bytes, key: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    connection.request("POST", "/v1/price", body, headers)
    response = connection.getresponse()
    response.read()
    return response.status


def exact_usage(port: int, body: bytes, keys: list[str], count: int) -> dict[str, dict]:
    """Each of `keys` sends `count` requests at once; statuses per key."""
    statuses: dict[str, dict[int, int]] = {key: {} for key in keys}

    def send(key: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(count):
            status = post(connection, body, key)
            statuses[key][status] = statuses[key].get(status, 0) + 1
        connection.close()

    threads = [threading.Thread(target=send, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def counted(database_url: str, partners: list[str]) -> dict[str, int]:
    from functions.database import Usage, make_engine
    from functions.database.usage import month_days

    engine = make_engine(database_url)
    month = datetime.now(UTC).strftime("%Y-%m")
    rows = Usage(engine).rows(*month_days(month))
    engine.dispose()
    found = dict.fromkeys(partners, 0)
    for row in rows:
        if row["partner"] in found and row["route"] == "POST /v1/price":
            found[row["partner"]] += row["requests"]
    return found


def revocation(env: dict, pricing_port: int, body: bytes, key: str) -> float:
    """Seconds from the models function's answer to a revocation until pricing refuses it."""
    import urllib.request

    port = free_port()
    command = [
        console_script("functions-framework"),
        "--source",
        "functions/main.py",
        "--target",
        "models",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with Server(command, server_env(env, 1, 4), port) as models:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        key_id = key.split("_")[2]
        partner = f"partner-{0:04d}"
        connection = http.client.HTTPConnection("127.0.0.1", pricing_port, timeout=30)
        assert post(connection, body, key) == 200
        revoke = http.client.HTTPConnection("127.0.0.1", models.port, timeout=30)
        revoke.request(
            "DELETE",
            f"/v1/partners/{partner}/keys/{key_id}",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        answer = revoke.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
        revoked = time.monotonic()
        while post(connection, body, key) != 401:
            time.sleep(0.05)
        return time.monotonic() - revoked


@records("partners", "Partners: keys, limits and usage")
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("csv", nargs="?", default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=10_000, help="per partner in (iii)")
    args = parser.parse_args()
    csv = args.csv or default_csv()
    print(f"partners, keys, limits and usage; {machine_load()}")
    with Environment(csv) as environment:
        environment.env["DIAMONDS_API_KEYS"] = ADMIN_KEY
        body = json.dumps(valid_stones(csv)[0]).encode()
        keys = fill(environment.database_url)
        print(f"{PARTNERS:,} partners, {KEYS:,} keys in the database")

        keyed, plain = added_time(environment.database_url, keys)
        added = statistics.median(keyed) - statistics.median(plain)
        print(
            f"(i) access layer per request, a partner's key: p50 {statistics.median(keyed):.1f} µs,"
            f" p99 {sorted(keyed)[int(len(keyed) * 0.99)]:.1f} µs; anonymous: p50 "
            f"{statistics.median(plain):.1f} µs; added p50 {added:.1f} µs "
            f"(target ≤ {TARGETS['added p50 µs']:.0f})"
        )

        on_env = (
            environment.env
        )  # every request of "on" presents a partner's key: checked, limited, counted
        bare_source = environment.write("bare_pricing.py", BARE_SOURCE)
        results: dict[str, list[float]] = {"on": [], "off": [], "bare": []}
        partner_key = {"Authorization": f"Bearer {keys[1]}"}
        for _ in range(args.repeats):  # alternated: a drifting machine load is shared
            for name, env, source, headers in (
                ("on", on_env, None, partner_key),
                ("off", environment.env, None, {}),
                ("bare", environment.env, str(bare_source), {}),
            ):
                with running(serving(env, source), body) as server:
                    load(server.port, "/v1/price", body, CONNECTIONS, 1, headers)
                    result = load(
                        server.port, "/v1/price", body, CONNECTIONS, args.seconds, headers
                    )
                    results[name].append(result.rps)
        on, off, bare = (median(results[k]) for k in ("on", "off", "bare"))
        print(
            f"(ii) {CONNECTIONS} connections, {CONFIG[0]} x {CONFIG[1]}, median of {args.repeats}:"
            f" keys+usage {on:.0f} req/s, neither {off:.0f} req/s ({(off - on) / off * 100:+.1f}% "
            f"fewer with them; target ≤ {TARGETS['on vs off %']:.0f}%), bare handler {bare:.0f} "
            f"req/s (keys+usage at {on / bare * 100:.0f}% of it; target ≥ "
            f"{TARGETS['share of bare %']:.0f}%)"
        )

        partners = [f"partner-{n:04d}" for n in range(10)]
        senders = [keys[PARTNERS + n] for n in range(10)]  # a key of each of partners 0-9
        with running(serving(on_env), body) as server:
            before = counted(environment.database_url, partners)
            started = time.perf_counter()
            statuses = exact_usage(server.port, body, senders, args.requests)
            elapsed = time.perf_counter() - started
            time.sleep(3)  # every worker's meter has written
            after = counted(environment.database_url, partners)
            sent = {p: sum(statuses[k].values()) for p, k in zip(partners, senders, strict=True)}
            exact = all(after[p] - before[p] == sent[p] for p in partners)
            errors = sum(n for s in statuses.values() for code, n in s.items() if code >= 500)
            print(
                f"(iii) 10 partners × {args.requests:,} requests at once in {elapsed:.1f} s: usage "
                f"{'equals' if exact else 'DIFFERS FROM'} the requests sent for every partner "
                f"({', '.join(f'{after[p] - before[p]}/{sent[p]}' for p in partners[:3])}, …); "
                f"{errors} 5xx; statuses {sorted({c for s in statuses.values() for c in s})}"
            )
            seconds = revocation(on_env, server.port, body, keys[0])
            print(
                f"(iv) a key revoked through the models function is refused by pricing after "
                f"{seconds:.2f} s (target ≤ {TARGETS['revoked s']:.0f})"
            )
        print(machine_load())


if __name__ == "__main__":
    main()
