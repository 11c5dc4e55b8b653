"""What the serving benchmarks share: a throw-away environment (trained champion, migrated
database, baseline pickle), starting and stopping servers, and load generators.

Not a benchmark itself; imported by `cold_start.py` and `latency.py`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
SOURCE = "functions/main.py"
"""The pricing function's source, relative to the repository root (the servers' cwd)."""
FEATURES = ("carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z")
BARE_SOURCE = '''"""A bare function: parses the JSON body, answers a constant (benchmark)."""
import orjson

ANSWER = orjson.dumps(
    {
        "price": 3957.0,
        "interval": {"low": 3580.0, "high": 4370.0, "coverage": 0.9},
        "model_version": "bare",
    }
)


def pricing(request):
    orjson.loads(request.get_data())
    return ANSWER, 200, {"Content-Type": "application/json"}
'''
"""The floor of any pricing function: functions-framework, the same JSON body parsed, a
constant answered. `latency.py` and `cold_start.py` measure it beside pricing."""
LIBRARIES_SOURCE = '''"""The bare function plus the two libraries pricing rests on (benchmark):
pydantic validates the body into a model, NumPy computes the answer."""
import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict


class Stone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carat: float
    cut: str
    color: str
    clarity: str
    depth: float
    table: float
    x: float
    y: float
    z: float


def pricing(request):
    stone = Stone.model_validate_json(request.get_data())
    price = float(np.exp(np.log(3957.0) + np.zeros(1) * stone.carat)[0])
    return orjson.dumps({"price": price}), 200, {"Content-Type": "application/json"}
'''
"""The floor of a pricing function that validates with pydantic and computes with NumPy, as
ours does: `cold_start.py` starts it beside pricing, to tell the libraries' import time from
ours."""
ASYNC_BARE_SOURCE = '''"""The bare function on functions-framework's async mode (benchmark)."""
import functions_framework.aio
import orjson
from starlette.responses import Response

ANSWER = orjson.dumps(
    {
        "price": 3957.0,
        "interval": {"low": 3580.0, "high": 4370.0, "coverage": 0.9},
        "model_version": "bare",
    }
)


@functions_framework.aio.http
async def pricing(request):
    orjson.loads(await request.body())
    return Response(ANSWER, media_type="application/json")
'''
"""The ceiling of a pricing function on the async mode, which pricing runs on: the same body
parsed, the same answer, through Starlette and uvicorn."""
ASYNC_LIBRARIES_SOURCE = (
    LIBRARIES_SOURCE.replace("import numpy", "import functions_framework.aio\nimport numpy")
    .replace("def pricing(request):", "@functions_framework.aio.http\nasync def pricing(request):")
    .replace("request.get_data()", "await request.body()")
    .replace(
        'return orjson.dumps({"price": price}), 200, {"Content-Type": "application/json"}',
        'return Response(orjson.dumps({"price": price}), media_type="application/json")',
    )
    .replace("from pydantic", "from starlette.responses import Response\nfrom pydantic")
)
"""The floor of a pricing function doing pydantic and NumPy on the async mode."""


def default_csv() -> Path:
    """The customer's file beside the checkout, else the embedded public data set."""
    shared = REPO.parent / "shared" / "data" / "diamonds.csv"
    if shared.is_file():
        return shared
    from training.datasets import public_diamonds_path

    return public_diamonds_path()


def console_script(name: str) -> str:
    """A console script of the running interpreter's environment (the venv), else PATH's."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed in this environment")
    return found


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def valid_stones(csv: Path) -> list[dict]:
    """The stones of the file that validation accepts, as API request bodies."""
    from training.validation import read_records

    records = read_records(csv.read_bytes()).accepted
    stones = []
    for row in records[list(FEATURES)].itertuples(index=False):
        stone = dict(zip(FEATURES, row, strict=True))
        for name in FEATURES:
            value = stone[name]
            stone[name] = str(value) if name in ("cut", "color", "clarity") else float(value)
        stones.append(stone)
    return stones


class Environment:
    """A temp dir with DATA/MODELS roots and a SQLite database (DIAMONDS_* variables), a
    champion trained by `python -m training CSV`, the migrated database, the baseline's
    pickled model and the peer's booster. Use as a context manager; everything is removed
    afterwards.

    `database_url` replaces the SQLite file by a database server, as deployed (Cloud SQL's
    PostgreSQL runs on its own machine; an SQLite file makes the serving process do the
    database's work too): its tables are migrated and written to, and left as they are.

    The servers start as a deployed function does, from byte-code: Cloud Functions' Python
    build runs `python3 -m compileall -f -q .` over the source, and the installed packages
    carry theirs. Without it, where PYTHONDONTWRITEBYTECODE is set, every start would compile
    the repository's modules again."""

    def __init__(self, csv: Path, database_url: str | None = None) -> None:
        self.csv = csv
        self._tmp = tempfile.TemporaryDirectory(prefix="diamonds-bench-")
        self.root = Path(self._tmp.name)
        self.database_url = database_url or f"sqlite:///{self.root / 'diamonds.db'}"
        self.env = {
            **os.environ,
            "DIAMONDS_DATA_ROOT": (self.root / "data").as_uri(),
            "DIAMONDS_MODELS_ROOT": (self.root / "models").as_uri(),
            "DIAMONDS_DATABASE_URL": self.database_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("WORKERS", None)
        self.env.pop("THREADS", None)
        self.baseline_model = self.root / "baseline.pkl"
        self.peer_model = self.root / "peer.txt"

    def __enter__(self) -> Environment:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "training", str(self.csv)],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise SystemExit(f"training failed:\n{result.stdout}\n{result.stderr}")
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "functions", "training"],
            cwd=REPO,
            check=True,
        )
        from functions.database import make_engine, migrate

        engine = make_engine(self.database_url)
        migrate(engine)
        engine.dispose()
        import baseline_service

        baseline_service.train(self.csv, self.baseline_model)
        self.env["BASELINE_MODEL"] = str(self.baseline_model)
        import peer_service

        peer_service.train(self.csv, self.peer_model)
        self.env["PEER_MODEL"] = str(self.peer_model)
        print(
            f"environment ready in {time.perf_counter() - started:.1f} s "
            f"(champion trained on {self.csv.name}, database migrated, baseline pickled, "
            "peer's booster trained)"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def prediction_log_rows(self) -> int:
        import sqlalchemy as sa

        from functions.database import make_engine
        from functions.database.tables import PREDICTION_LOG

        engine = make_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.scalar(sa.select(sa.func.count()).select_from(PREDICTION_LOG))
        finally:
            engine.dispose()

    @property
    def database(self) -> str:
        """Where the servers' prediction log goes, for a benchmark's header."""
        import sqlalchemy as sa

        url = sa.make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            return "an SQLite file in the temp dir"
        return f"{url.get_backend_name()} at {url.host}:{url.port}/{url.database}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ours_command(port: int, source: str = SOURCE) -> list[str]:
    """The pricing function exactly as `functions-framework` serves it: gunicorn on Linux, with
    uvicorn workers for a function of the async mode, which its decorator selects."""
    return [
        console_script("functions-framework"),
        "--source",
        source,
        "--target",
        "pricing",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def peer_command(port: int, workers: int) -> list[str]:
    """The FastAPI peer under uvicorn, `workers` processes."""
    return [
        console_script("uvicorn"),
        "--app-dir",
        str(BENCHMARKS),
        "--factory",
        "peer_service:create_app",
        "--workers",
        str(workers),
        "--log-level",
        "error",
        "--no-access-log",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def baseline_command(port: int, workers: int = 1, threads: int = 8) -> list[str]:
    """The baseline under gunicorn with the options functions-framework gives gunicorn."""
    return [
        console_script("gunicorn"),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "0",
        "--limit-request-line",
        "0",
        "--log-level",
        "error",
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        str(BENCHMARKS),
        "baseline_service:create_app()",
    ]


def server_env(env: dict, workers: int | None = None, threads: int | None = None) -> dict:
    """functions-framework reads its gunicorn configuration from WORKERS and THREADS."""
    env = dict(env)
    if workers is not None:
        env["WORKERS"] = str(workers)
    if threads is not None:
        env["THREADS"] = str(threads)
    return env


class NotReady(RuntimeError):
    """A server that exited, or did not price a stone in time."""


class Server:
    """A server process (and its workers, in their own process group) started in `cwd`, stopped
    on exit."""

    def __init__(self, command: Sequence[str], env: dict, port: int, cwd: Path = REPO) -> None:
        self.command, self.env, self.port, self.cwd = list(command), env, port, cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Start the process; returns the perf_counter instant just before it was spawned."""
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return started

    def wait_ready(self, body: bytes, path: str = "/v1/price", timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                status, answer = request_once(self.port, path, body)
                if status == 200:
                    return
                last = f"{status} {answer[:300]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.02)
        raise NotReady(f"no 200 within {timeout:.0f} s (last: {last}) from {self.command}")

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            stderr = (
                self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
            )
            raise NotReady(f"server exited ({self.process.returncode}): {stderr[-2000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass
        finally:
            if self.process.stderr:
                self.process.stderr.close()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running(make: Callable[[int], Server], body: bytes, attempts: int = 3) -> Iterator[Server]:
    """A started server that has priced `body`, on a free port; stopped afterwards. Started
    again on another port if it fails (another process may take a port between the choice and
    the bind on a busy machine)."""
    problem = None
    for _ in range(attempts):
        server = make(free_port())
        server.start()
        try:
            server.wait_ready(body)
        except NotReady as exc:
            server.stop()
            problem = exc
            print(f"  (server not ready, starting it again: {exc})", flush=True)
            continue
        try:
            yield server
        finally:
            server.stop()
        return
    raise SystemExit(str(problem))


HEADERS = {"Content-Type": "application/json"}


def request_once(port: int, path: str, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    """One POST on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, body, HEADERS)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def sequential(port: int, path: str, body: bytes, count: int, warmup: int = 100) -> list[float]:
    """Latencies (ms) of `count` POSTs one after another on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    timings = []
    try:
        for i in range(warmup + count):
            started = time.perf_counter()
            connection.request("POST", path, body, HEADERS)
            response = connection.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise SystemExit(f"POST {path} answered {response.status}")
            if i >= warmup:
                timings.append(elapsed)
    finally:
        connection.close()
    return timings


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str
    error_kinds: str = ""
    split: tuple[int, ...] = ()
    """The connections each process of the server held halfway through (`spread_load`)."""
    lopsided: int = 0
    """Runs before this one that `spread_load` did again, one worker having held nothing."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def spread(self) -> str:
        return "+".join(str(n) for n in self.split) or "?"


def spread_load(
    server: Server, body: bytes, connections: int, seconds: float, workers: int = 1, again: int = 2
) -> LoadResult:
    """`load` on a server's /v1/price, with how its processes shared the connections. asyncio
    accepts every pending connection at once, so when a burst of them arrives one uvicorn
    worker of two may take them all (the other idles): such a run measures one worker, and is
    done again, up to `again` times (counted in `lopsided`). A deployed instance runs one
    worker, where this does not arise. A server whose connections are not held (gunicorn's
    sync worker closes each) is measured once."""
    for lopsided in range(again + 1):
        result = _sampled_load(server, body, connections, seconds)
        result.lopsided = lopsided
        if len(result.split) in (0, workers):
            break
    return result


def _sampled_load(server: Server, body: bytes, connections: int, seconds: float) -> LoadResult:
    split: list[tuple[int, ...]] = []
    sampler = threading.Timer(seconds / 2, lambda: split.append(connections_by_process(server)))
    sampler.start()
    try:
        result = load(server.port, "/v1/price", body, connections, seconds)
    finally:
        sampler.cancel()
        sampler.join()
    result.split = split[0] if split else ()
    return result


def connections_by_process(server: Server) -> tuple[int, ...]:
    """The established connections to the server's port held by each of its processes that
    holds any, most first (Linux's /proc)."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError), open(table) as lines:
            for fields in (line.split() for line in list(lines)[1:]):
                if int(fields[1].rsplit(":", 1)[1], 16) == server.port and fields[3] == "01":
                    established.add(f"socket:[{fields[9]}]")
    held = []
    for pid in _descendants(server.process.pid if server.process else -1):
        with suppress(OSError):
            fds = Path(f"/proc/{pid}/fd")
            count = sum(1 for fd in fds.iterdir() if os.readlink(fd) in established)
            if count:
                held.append(count)
    return tuple(sorted(held, reverse=True))


def _stat(path: Path) -> list[str]:
    """The fields of a /proc/<pid>/stat after the command's name: the state is [0], the
    parent [1], user and system time in clock ticks [11] and [12]."""
    return path.read_text().rsplit(")", 1)[1].split()


def _descendants(root: int) -> set[int]:
    """The processes started by `root`, and by them, and so on (not `root` itself)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(_stat(stat)[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def load(
    port: int,
    path: str,
    body: bytes,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    cpu: int | None = None,
) -> LoadResult:
    """Closed-loop load: `connections` keep-alive connections sending as fast as answered.
    wrk when it is installed (on core `cpu` alone, if given), else Python threads."""
    if shutil.which("wrk"):
        return _wrk(port, path, body, connections, seconds, headers or {}, cpu)
    return _threads(port, path, body, connections, seconds, headers or {})


def pinned(make: Callable[[int], Server], cpu: int) -> Callable[[int], Server]:
    """A server factory whose processes all run on core `cpu` alone (taskset): an instance of
    one vCPU."""

    def make_pinned(port: int) -> Server:
        server = make(port)
        server.command = ["taskset", "-c", str(cpu), *server.command]
        return server

    return make_pinned


def can_pin() -> bool:
    """Whether a server and its load generator can each have a core of their own."""
    return (
        bool(shutil.which("taskset") and shutil.which("wrk")) and len(os.sched_getaffinity(0)) > 1
    )


def cpu_seconds(server: Server) -> float:
    """The CPU time (user and system) the server's processes have used so far."""
    root = server.process.pid if server.process else -1
    ticks = 0
    for pid in {root, *_descendants(root)}:
        with suppress(OSError, IndexError, ValueError):
            fields = _stat(Path(f"/proc/{pid}/stat"))
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %.1f %.1f\\n", summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _wrk(
    port: int,
    path: str,
    body: bytes,
    connections: int,
    seconds: float,
    headers: dict[str, str],
    cpu: int | None,
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT.format(body=json.dumps(body.decode())))
        for name, value in headers.items():
            script.write(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n")
    try:
        threads = 1 if cpu is not None else min(connections, os.cpu_count() or 1)
        result = subprocess.run(
            [
                *(() if cpu is None else ("taskset", "-c", str(cpu))),
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds:g}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(script.name)
    match = re.search(r"^RESULT (.*)$", result.stdout, re.MULTILINE)
    if match is None:
        raise SystemExit(f"wrk failed: {result.stdout}\n{result.stderr}")
    requests, duration, *errors, p50, p99 = (float(v) for v in match.group(1).split())
    kinds = ", ".join(
        f"{int(n)} {kind}"
        for kind, n in zip(("connect", "read", "write", "non-2xx", "timeout"), errors, strict=True)
        if n
    )
    return LoadResult(
        int(requests), duration / 1e6, p50 / 1000, p99 / 1000, int(sum(errors)), "wrk", kinds
    )


def _threads(
    port: int, path: str, body: bytes, connections: int, seconds: float, headers: dict[str, str]
) -> LoadResult:
    sent = {**HEADERS, **headers}
    deadline = time.perf_counter() + seconds
    timings: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def client(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                connection.request("POST", path, body, sent)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    timings[i].append((time.perf_counter() - started) * 1000)
                else:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    every = [t for per in timings for t in per]
    failed = sum(errors)
    return LoadResult(
        len(every) + failed,
        elapsed,
        percentile(every, 50),
        percentile(every, 99),
        failed,
        "python threads",
        f"{failed} failed" if failed else "",
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
