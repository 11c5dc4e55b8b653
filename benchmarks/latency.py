"""Warm latency and throughput of the pricing function over loopback, as functions-framework
runs it in production: on its async mode (gunicorn with uvicorn workers, timeout 0).

    python benchmarks/latency.py [CSV] [--workers 2] [--seconds 10] [--repeats 3]
                                 [--concurrency 1,2,4,8,16,32,64] [--database URL]

CSV defaults to ../shared/data/diamonds.csv beside the checkout, else the embedded public data
set. Everything runs in a temp dir (DIAMONDS_* roots and a SQLite database there): a champion
trained with `python -m training CSV`, the database migrated once, a baseline model pickled,
the peer's booster trained. `--database` sends the prediction log to a PostgreSQL server
instead, as deployed: with an SQLite file the serving process does the database's own work
besides its own (the server's processes are not counted in (vii)'s CPU per request).

Load comes from wrk when it is installed (-t 2 -c 16, a Lua script POSTing one stone), else
from Python threads, each with its own keep-alive connection. Measured:

  (i)   one stone, 2,000 sequential POSTs on one keep-alive connection: p50, p99
  (ii)  16 concurrent connections for --seconds: requests/s, p50, p99, errors (median of
        --repeats runs, the servers alternated so that a drifting machine load is shared), all
        at WORKERS processes: pricing; the bare handler on the async mode (parses the same
        body, answers a constant: the ceiling of any pricing function on it) and on the
        synchronous one (THREADS=1); the numpy+pydantic floor on both; the FastAPI+LightGBM
        peer (benchmarks/peer_service.py, uvicorn); the Flask+pandas+sklearn baseline
        (benchmarks/baseline_service.py, gunicorn, THREADS=1). Pricing's share of the async
        bare handler's requests/s, and its lead over the peer's
  (iii) 10,000 stones in one POST /v1/price: median of 7; the peer's, for comparison
  (iv)  explain=true, one stone, 1,000 sequential POSTs: p50, p99
  (v)   where the time goes: routing alone (a constant price, no log), routing and the log,
        pricing without the log, pricing, and the async bare handler, alternated (wrapper
        sources replacing the pricer or the log by no-ops); the log's cost is pricing without
        it vs with it
  (vi)  one worker (a Cloud Run instance of one vCPU) at each --concurrency connections:
        requests/s and p99, the request concurrency of a pricing instance (Terraform's
        pricing_concurrency) read from it
  (vii) one vCPU as Cloud Run gives an instance, where taskset and wrk are at hand: each
        server one worker pinned to one core, wrk pinned to another, alternated: pricing,
        pricing without the log, routing alone (a constant price, no log: pricing's floor on
        this path), the async bare handler, the numpy+pydantic floor, the peer; requests/s,
        p99 and the CPU time the server's processes used per request

At WORKERS=2 asyncio's accept race may give one worker every connection of a run while the
other idles: such a run measures one worker, and (ii) and (v) do it again, twice at most.
They print how the connections were shared in each run kept, how many runs were done again,
and the shares over the runs where both workers held some. A server that closes each
connection once it has answered (gunicorn's sync worker, which THREADS=1 selects) holds none
for long: "?".
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

from harness import (
    ASYNC_BARE_SOURCE,
    ASYNC_LIBRARIES_SOURCE,
    BARE_SOURCE,
    LIBRARIES_SOURCE,
    Environment,
    LoadResult,
    Server,
    baseline_command,
    can_pin,
    cpu_seconds,
    default_csv,
    load,
    machine_load,
    median,
    ours_command,
    peer_command,
    percentile,
    pinned,
    request_once,
    running,
    sequential,
    server_env,
    spread_load,
    valid_stones,
)
from results import records

CONNECTIONS = 16
BATCH = 10_000
TARGETS = {
    "single p50 ms": 2.0,
    "16-conn req/s": 1500.0,
    "16-conn p99 ms": 5.0,
    "10k stones ms": 300.0,
    "explain p50 ms": 2.0,
    "log cost %": 10.0,
    "share of async bare req/s %": 70.0,
    "req/s over the peer's %": 100.0,
    "1-vCPU share of async bare %": 70.0,
    "1-vCPU p99 ms": 5.0,
}
AT_LEAST = {
    "16-conn req/s",
    "share of async bare req/s %",
    "req/s over the peer's %",
    "1-vCPU share of async bare %",
}
SATURATED = 0.95
"""(vi): the concurrency of an instance is the fewest connections reaching this share of the
most requests/s one worker served: more only wait in its queue."""
PARTS_SOURCE = '''"""The pricing function with parts of its work replaced by no-ops (benchmark)."""
import functions.main
from functions.main import pricing  # noqa: F401


class ConstantPricer:
    """One fixed price for every stone: routing, validation and the response stay."""

    def ready(self):
        return True

    def price(self, stones, *, explain=False, comparables=0):
        price = {"price": 3957.0, "interval": {"low": 3580.0, "high": 4370.0, "coverage": 0.9}}
        results = [{**price, "model_version": "constant"} for _ in stones]
        return "constant", results, [[] for _ in stones]


class NoLog:
    def submit(self, entry):
        pass

    def stopping(self):
        pass


made = functions.main.instance._made
'''
PARTS = {
    "routing only": ("pricer", "prediction_log"),
    "routing + log": ("pricer",),
    "pricing, no log": ("prediction_log",),
    "pricing": (),
}
"""The rows of (v): what each replaces by a no-op."""
NO_OP = {"pricer": "ConstantPricer()", "prediction_log": "NoLog()"}


def parts_source(replaced: tuple[str, ...]) -> str:
    return PARTS_SOURCE + "".join(f'made["{name}"] = {NO_OP[name]}\n' for name in replaced)


def summary(runs: list[LoadResult]) -> LoadResult:
    """Median requests/s, p50 and p99 of several runs; errors summed, their kinds joined."""
    middle = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    return LoadResult(
        middle.requests,
        middle.seconds,
        median([r.p50_ms for r in runs]),
        median([r.p99_ms for r in runs]),
        sum(r.errors for r in runs),
        middle.tool,
        "; ".join(r.error_kinds for r in runs if r.error_kinds),
    )


def warm(server: Server, body: bytes) -> int:
    """Bursts of concurrent load on fresh connections until two in a row have no error, so that
    every worker has loaded the champion; returns the errors of the first burst (a cold
    instance under concurrent load, right after its first price)."""
    first = load(server.port, "/v1/price", body, CONNECTIONS, 1).errors
    for _ in range(50 * CONNECTIONS // 4):  # fresh connections reach every worker
        request_once(server.port, "/v1/price", body)
    clean = 0
    for _ in range(20):
        errors = load(server.port, "/v1/price", body, CONNECTIONS, 1).errors
        clean = clean + 1 if errors == 0 else 0
        if clean == 2:
            break
    return first


def ours(
    environment: Environment, workers: int, source: str | None = None
) -> Callable[[int], Server]:
    """A factory of the pricing function's server on a given port."""

    def make(port: int) -> Server:
        command = ours_command(port) if source is None else ours_command(port, source)
        return Server(command, server_env(environment.env, workers, 1), port)

    return make


def baseline(environment: Environment, workers: int) -> Callable[[int], Server]:
    return lambda port: Server(baseline_command(port, workers, 1), environment.env, port)


def peer(environment: Environment, workers: int) -> Callable[[int], Server]:
    return lambda port: Server(peer_command(port, workers), environment.env, port)


def row(name: str, result: LoadResult, single: list[float] | None = None) -> str:
    singles = (
        f"{percentile(single, 50):10.2f} {percentile(single, 99):10.2f}"
        if single
        else f"{'':10s} {'':10s}"
    )
    return (
        f"{name:28s} {singles} {result.rps:8.0f} {result.p50_ms:7.2f} {result.p99_ms:7.2f} "
        f"{result.errors:6d}" + (f"  ({result.error_kinds})" if result.error_kinds else "")
    )


def held(name: str, results: list[LoadResult]) -> str:
    """How a server's processes held the connections, run by run, and how many runs were done
    again because one worker held none."""
    again = sum(result.lopsided for result in results)
    spread = " ".join(result.spread for result in results)
    return f"{name} {spread}" + (f" (lopsided runs done again: {again})" if again else "")


def spreads(runs: dict[str, list[LoadResult]], workers: int, pricing: str, ceiling: str) -> None:
    """How each server's processes shared the connections in each run, and `pricing`'s share of
    `ceiling` over the runs where every worker held some (the others measured one worker)."""
    print(
        "connections held by each process, run by run: "
        + "; ".join(held(name, results) for name, results in runs.items())
    )
    spread = {
        name: [r.rps for r in runs[name] if len(r.split) == workers] for name in (pricing, ceiling)
    }
    if workers > 1 and all(spread.values()):
        print(
            f"over the runs where all {workers} workers held connections: {pricing} "
            f"{median(spread[pricing]):.0f} req/s ({len(spread[pricing])} runs), {ceiling} "
            f"{median(spread[ceiling]):.0f} ({len(spread[ceiling])}): "
            f"{median(spread[pricing]) / median(spread[ceiling]) * 100:.0f}%"
        )


def one_vcpu(
    environment: Environment,
    body: bytes,
    sources: dict[str, str],
    part_sources: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, LoadResult]:
    """(vii): each server one worker on the first core alone, wrk on the second: a Cloud Run
    instance of one vCPU, as pricing is deployed, with no worker left idle by the accept race
    and no load generator sharing its core. Alternated, median of --repeats; the CPU the
    server's processes used per request."""
    servers = {
        "pricing": ours(environment, 1),
        "pricing, no log": ours(environment, 1, part_sources["pricing, no log"]),
        "routing only": ours(environment, 1, part_sources["routing only"]),
        "async bare": ours(environment, 1, sources["async bare"]),
        "numpy+pydantic (async)": ours(environment, 1, sources["async floor"]),
        "peer FastAPI+LightGBM": peer(environment, 1),
    }
    runs: dict[str, list[LoadResult]] = {name: [] for name in servers}
    used: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(args.repeats):
        for name, make in servers.items():
            with running(pinned(make, 0), body) as server:
                warm(server, body)
                before = cpu_seconds(server)
                result = load(server.port, "/v1/price", body, CONNECTIONS, args.seconds, cpu=1)
                used[name].append((cpu_seconds(server) - before) / max(result.requests, 1))
                runs[name].append(result)
    print(
        f"\n(vii) one vCPU: one worker pinned to a core, wrk on the other, {CONNECTIONS} "
        f"connections × {args.seconds:g} s, median of {args.repeats} alternated runs"
    )
    print(
        f"{'server':24s} {'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s} "
        f"{'of bare':>7s} {'CPU µs/request':>14s}"
    )
    table = {name: summary(results) for name, results in runs.items()}
    for name, result in table.items():
        print(
            f"{name:24s} {result.rps:8.0f} {result.p50_ms:7.2f} {result.p99_ms:7.2f} "
            f"{result.errors:6d} {result.rps / table['async bare'].rps * 100:6.0f}% "
            f"{median(used[name]) * 1e6:14.0f}"
        )
    print(
        "(req/s of each run: "
        + "; ".join(
            f"{name} {' '.join(f'{r.rps:.0f}' for r in results)}" for name, results in runs.items()
        )
        + ")"
    )
    return table


@records("latency", "Latency and throughput of pricing")
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("csv", nargs="?", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2, help="WORKERS of every server")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load run")
    parser.add_argument("--repeats", type=int, default=3, help="load runs per measurement")
    parser.add_argument("--concurrency", default="1,2,4,8,16,32,64", help="(vi) connections")
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="the prediction log's database: a PostgreSQL server, as deployed (default: an "
        "SQLite file, whose work the serving process then does too)",
    )
    args = parser.parse_args()
    csv = args.csv or default_csv()
    workers = args.workers
    print(f"latency and throughput; {machine_load()}")
    with Environment(csv, args.database) as environment:
        print(f"prediction log: {environment.database}")
        stones = valid_stones(csv)
        body = json.dumps(stones[0]).encode()
        batch = json.dumps((stones * (BATCH // len(stones) + 1))[:BATCH]).encode()
        print(f"one stone: {body.decode()}\n{BATCH:,}-stone body: {len(batch) / 1e6:.2f} MB")

        sources = {
            name: str(environment.write(f"{name.replace(' ', '_')}.py", text))
            for name, text in (
                ("async bare", ASYNC_BARE_SOURCE),
                ("async floor", ASYNC_LIBRARIES_SOURCE),
                ("sync bare", BARE_SOURCE),
                ("sync floor", LIBRARIES_SOURCE),
            )
        }
        servers: dict[str, Callable[[int], Server]] = {
            "pricing (async)": ours(environment, workers),
            "bare handler (async)": ours(environment, workers, sources["async bare"]),
            "numpy+pydantic (async)": ours(environment, workers, sources["async floor"]),
            "bare handler (sync)": ours(environment, workers, sources["sync bare"]),
            "numpy+pydantic (sync)": ours(environment, workers, sources["sync floor"]),
            "peer FastAPI+LightGBM": peer(environment, workers),
            "baseline Flask+sklearn": baseline(environment, workers),
        }
        print(
            f"\n(i) one stone sequentially, (ii) {CONNECTIONS} connections × {args.seconds:g} s, "
            f"median of {args.repeats}, every server at WORKERS={workers}"
        )
        print(
            f"{'server':28s} {'single p50':>10s} {'single p99':>10s} "
            f"{'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s}"
        )
        runs: dict[str, list[LoadResult]] = {name: [] for name in servers}
        singles: dict[str, list[float]] = {}
        cold_errors = 0
        for repeat in range(args.repeats):  # servers alternated: drifting load is shared
            for name, make in servers.items():
                with running(make, body) as server:
                    errors = warm(server, body)
                    cold_errors += errors if name == "pricing (async)" else 0
                    if repeat == 0 and name in ("pricing (async)", "peer FastAPI+LightGBM"):
                        singles[name] = sequential(server.port, "/v1/price", body, 2000)
                    runs[name].append(spread_load(server, body, CONNECTIONS, args.seconds, workers))
        table = {name: summary(results) for name, results in runs.items()}
        for name, result in table.items():
            print(row(name, result, singles.get(name)))
        ours_result = table["pricing (async)"]
        share = ours_result.rps / table["bare handler (async)"].rps * 100
        lead = ours_result.rps / table["peer FastAPI+LightGBM"].rps * 100
        print(
            f"pricing serves {share:.0f}% of the requests/s of the async bare handler "
            f"({ours_result.rps / table['bare handler (sync)'].rps * 100:.0f}% of the sync one's) "
            f"and {lead:.0f}% of the peer's; p99 {ours_result.p99_ms:.2f} ms against "
            f"{table['bare handler (async)'].p99_ms:.2f} ms and "
            f"{table['peer FastAPI+LightGBM'].p99_ms:.2f} ms"
        )
        print(
            f"(load generator: {ours_result.tool}; errors: of the measured runs; pricing's cold "
            f"errors, of the first 1-s bursts on just-started servers: {cold_errors})"
        )
        spreads(runs, workers, "pricing (async)", "bare handler (async)")

        with running(ours(environment, workers), body) as server:
            warm(server, body)
            status, answer = request_once(server.port, "/v1/price", batch, timeout=120)
            priced = len(json.loads(answer).get("prices", [])) if status == 200 else 0
            if priced != BATCH:
                raise SystemExit(f"the {BATCH:,}-stone request answered {status}: {answer[:500]!r}")
            batch_ms = sequential(server.port, "/v1/price", batch, 7, warmup=1)
            explain = sequential(server.port, "/v1/price?explain=true", body, 1000)
        with running(peer(environment, workers), body) as server:
            peer_batch_ms = sequential(server.port, "/v1/prices", batch, 7, warmup=1)
        print(
            f"\n(iii) {BATCH:,} stones in one request: median {median(batch_ms):.0f} ms "
            f"(min {min(batch_ms):.0f}, max {max(batch_ms):.0f}; 7 requests); the peer's "
            f"(prices only): {median(peer_batch_ms):.0f} ms"
        )
        print(
            "(iv) explain=true, one stone, 1,000 sequential: "
            f"p50 {percentile(explain, 50):.2f} ms, "
            f"p99 {percentile(explain, 99):.2f} ms"
        )

        part_sources = {
            name: str(environment.write(f"pricing_part_{i}.py", parts_source(replaced)))
            for i, (name, replaced) in enumerate(PARTS.items())
        }
        parts: dict[str, list[LoadResult]] = {name: [] for name in [*PARTS, "async bare"]}
        before = environment.prediction_log_rows()
        for _ in range(args.repeats):
            for name, source in [*part_sources.items(), ("async bare", sources["async bare"])]:
                with running(ours(environment, workers, source), body) as server:
                    warm(server, body)
                    parts[name].append(
                        spread_load(server, body, CONNECTIONS, args.seconds, workers)
                    )
        logged = environment.prediction_log_rows() - before
        rps = {name: median([r.rps for r in results]) for name, results in parts.items()}
        cost = (rps["pricing, no log"] - rps["pricing"]) / rps["pricing, no log"] * 100
        cores = os.cpu_count() or 1
        print(
            f"\n(v) where the time goes, WORKERS={workers}, {CONNECTIONS} connections, median "
            f"of {args.repeats} alternated runs; each row but the last replaces parts of the "
            "pricing function by no-ops (a constant price, a log that drops its entries)"
        )
        print(
            f"{'':16s} {'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s} "
            f"{'of bare':>7s} {'machine µs/request':>18s}"
        )
        for name, results in parts.items():
            print(
                f"{name:16s} {rps[name]:8.0f} "
                f"{median([r.p50_ms for r in results]):7.2f} "
                f"{median([r.p99_ms for r in results]):7.2f} "
                f"{sum(r.errors for r in results):6d} "
                f"{rps[name] / rps['async bare'] * 100:6.0f}% "
                f"{cores * 1e6 / rps[name]:18.0f}"
                + (f"  ({summary(results).error_kinds})" if summary(results).error_kinds else "")
            )
        spreads(parts, workers, "pricing", "async bare")
        print(
            f"(machine µs/request: {cores} cores' time per request, load generator included)\n"
            f"log cost: {cost:.1f}% of throughput; the servers with the log wrote {logged:,} log "
            f"rows (warm-up included) for {sum(r.requests for r in parts['pricing']):,} measured "
            "requests"
        )

        print(f"\n(vi) one worker, {args.seconds:g} s at each concurrency")
        print(f"{'connections':>11s} {'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s}")
        sweep: dict[int, LoadResult] = {}
        with running(ours(environment, 1), body) as server:
            warm(server, body)
            for connections in (int(n) for n in args.concurrency.split(",")):
                sweep[connections] = load(server.port, "/v1/price", body, connections, args.seconds)
                result = sweep[connections]
                print(
                    f"{connections:11d} {result.rps:8.0f} {result.p50_ms:7.2f} "
                    f"{result.p99_ms:7.2f} {result.errors:6d}"
                )
        most = max(r.rps for r in sweep.values())
        enough = min(c for c, r in sweep.items() if r.rps >= SATURATED * most)
        print(
            f"one worker reaches {SATURATED:.0%} of its most requests/s ({most:.0f}) at {enough} "
            "connections: a pricing instance's request concurrency"
        )

        instance = one_vcpu(environment, body, sources, part_sources, args) if can_pin() else {}

        figures = {
            "single p50 ms": percentile(singles["pricing (async)"], 50),
            "16-conn req/s": ours_result.rps,
            "16-conn p99 ms": ours_result.p99_ms,
            "10k stones ms": median(batch_ms),
            "explain p50 ms": percentile(explain, 50),
            "log cost %": cost,
            "share of async bare req/s %": share,
            "req/s over the peer's %": lead,
        }
        if instance:
            figures["1-vCPU share of async bare %"] = (
                instance["pricing"].rps / instance["async bare"].rps * 100
            )
            figures["1-vCPU p99 ms"] = instance["pricing"].p99_ms
        print(f"\ntargets (pricing at WORKERS={workers})")
        for name, value in figures.items():
            target = TARGETS[name]
            ok = value >= target if name in AT_LEAST else value <= target
            print(
                f"  {name:27s} {value:9.2f}  target {'≥' if name in AT_LEAST else '≤'} "
                f"{target:g}  {'ok' if ok else 'MISSED'}"
            )
        if ours_result.errors:
            print(f"  errors: {ours_result.errors} (target 0)  MISSED")
    print(f"\n{machine_load()}")


if __name__ == "__main__":
    main()
