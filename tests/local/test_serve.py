"""`diamonds serve`, the README's run command: the whole local stack on the embedded defaults."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from functions.deployables import target_for

from ..functions.test_api import STONE
from ..service_fixtures import free_port

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize(
    ("path", "function"),
    [
        ("/v1/price", "pricing"),
        ("/v1/diamonds", "inventory"),
        ("/v1/diamonds/7", "inventory"),
        ("/v1/models/v1/promote", "models"),
        ("/v1/runs/r1", "models"),
        ("/v1/ingestions", "models"),
        ("/v1/retrain", "retrain"),
        ("/v1/openapi.json", "pricing"),
        ("/healthz", "pricing"),
        ("/v1/pricey", "pricing"),
        ("/v1/diamondsX", "pricing"),
    ],
)
def test_paths_go_to_the_function_the_cloud_routes_them_to(path: str, function: str) -> None:
    assert target_for(path) == function


def start_serve(cwd: Path, port: int, *args: str, env: dict | None = None) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIAMONDS_")}
    environment.pop("STORAGE_EMULATOR_HOST", None)
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("diamonds")), "serve", "--port", str(port), *args],
        cwd=cwd,
        env={**environment, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(server: subprocess.Popen, output: list[str], text: str, seconds: float) -> str:
    """Read the server's output until a line holds `text`; all of it so far."""
    found = threading.Event()

    def read() -> None:
        for line in server.stdout:
            output.append(line)
            if text in line:
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert found.wait(seconds), f"no {text!r} in:\n{''.join(output)}"
    return "".join(output)


def follow(server: subprocess.Popen, output: list[str]) -> None:
    """Keep reading the server's output, so that it never blocks on a full pipe."""
    threading.Thread(target=lambda: output.extend(server.stdout), daemon=True).start()


def until(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.2)


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0


def refused_by_the_server(url: str) -> None:
    """What the server itself refuses, before any function sees it, is a problem document too;
    and a key sent in a query string stays out of the access log."""
    sent = requests.get(f"{url}/v1/price?key=s3cret-in-the-query&carat=1", timeout=30)
    assert sent.status_code == 422
    for status, response in (
        (414, requests.get(f"{url}/v1/price?x=" + "y" * 20_000, timeout=30)),
        (414, requests.get(f"{url}/v1/price?x=" + "y" * 70_000, timeout=30)),
        (431, requests.get(url, headers={f"X-{i}": "v" for i in range(120)}, timeout=30)),
        (431, requests.get(url, headers={"X-Big": "v" * 70_000}, timeout=30)),
    ):
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == status


@pytest.mark.slow
def test_serve_seeds_through_ingestion_trains_serves_and_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    server = start_serve(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        text = read_until(server, output, "is the champion", 600)
        assert "seeding: the public data set went into incoming/public-diamonds.csv" in text
        assert "53940 rows read, 53738 accepted (53738 new" in text
        assert "202 quarantined" in text
        key = re.search(r"write key (\S+)", text).group(1)
        follow(server, output)

        priced = requests.post(f"{url}/v1/price?comparables=3", json=STONE, timeout=30).json()
        assert 4000 < priced["price"] < 12000 and len(priced["comparables"]) == 3
        assert requests.get(f"{url}/v1/diamonds?limit=1", timeout=30).json()["total"] == 53738
        (seed,) = requests.get(f"{url}/v1/ingestions", timeout=30).json()["items"]
        assert seed["status"] == "done" and seed["name"] == "incoming/public-diamonds.csv"
        until(lambda: requests.get(f"{url}/v1/runs", timeout=30).json()["running"] is None)
        refused_by_the_server(url)
        started = requests.post(
            f"{url}/v1/retrain", json={}, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ).json()
        trainer, status_url = started["job"]["pid"], url + started["status_url"]
        until(lambda: requests.get(status_url, timeout=30).json()["status"] == "running")
        assert (tmp_path / ".diamonds" / "diamonds.db").is_file()
    finally:
        stop(server)
    assert "s3cret-in-the-query" not in "".join(output), "the access log keeps no query value"
    with pytest.raises(ProcessLookupError):
        os.kill(trainer, 0)
    runs = tmp_path / ".diamonds" / "models" / "runs"
    run = json.loads((runs / f"{started['run_id']}.json").read_text())
    assert run["status"] == "failed" and "interrupted" in run["error"]

    (tmp_path / ".diamonds" / "models" / "champion.json").unlink()
    restarted = start_serve(tmp_path, port)
    try:
        text = read_until(restarted, [], "is the champion", 600)
        assert "seeding" not in text
        assert "no model serves: training the first one on the inventory's 53738 stones" in text
    finally:
        stop(restarted)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.gcs
def test_serve_on_emulated_gcp_ingests_a_dropped_file(tmp_path: Path, postgres_url: str) -> None:
    port = free_port()
    server = start_serve(
        tmp_path, port, "--emulate-gcp", env={"DIAMONDS_DATABASE_URL": postgres_url}
    )
    url = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        text = read_until(server, output, "is the champion", 600)
        assert "data      gs://diamonds-data/incoming/" in text
        emulator = re.search(r"STORAGE_EMULATOR_HOST=(\S+)", text).group(1)
        follow(server, output)
        assert requests.get(f"{url}/v1/diamonds?limit=1", timeout=30).json()["total"] == 53738

        (tmp_path / "new.csv").write_bytes(
            b"carat,cut,color,clarity,depth,table,price,x,y,z\n"
            b"1.01,Ideal,E,VS1,61.5,57,7001,6.44,6.47,3.97\n"
        )
        (readme_upload,) = re.findall(r"`(curl [^`]*\$STORAGE_EMULATOR_HOST[^`]*)`", README)
        uploaded = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", readme_upload],
            cwd=tmp_path,
            env={**os.environ, "STORAGE_EMULATOR_HOST": emulator},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert uploaded.returncode == 0, uploaded.stderr
        upload = json.loads(uploaded.stdout)
        deadline = time.monotonic() + 60
        while True:
            items = requests.get(f"{url}/v1/ingestions", timeout=30).json()["items"]
            if items[0]["name"] == "incoming/new.csv" and items[0]["status"] == "done":
                break
            assert time.monotonic() < deadline, items
            time.sleep(0.5)
        assert items[0]["generation"] == upload["generation"]
        assert items[0]["inserted"] == 1 and items[0]["run_id"]
        assert requests.get(f"{url}/v1/diamonds?limit=1", timeout=30).json()["total"] == 53739
        champion = requests.get(f"{url}/v1/models", timeout=30).json()["champion"]
        assert requests.post(f"{url}/v1/price", json=STONE, timeout=30).json()["model_version"]
        assert champion
    finally:
        stop(server)


def started(tmp_path: Path, keys: str | None) -> tuple[subprocess.Popen, str, str]:
    """`diamonds serve` with DIAMONDS_API_KEYS set to `keys` (None: unset), seeded with a file
    that holds no stone (so that nothing trains); the server, its banner and its URL."""
    seed = tmp_path / "none.csv"
    seed.write_text("carat,cut,color,clarity,depth,table,price,x,y,z\n")
    port = free_port()
    env = {} if keys is None else {"DIAMONDS_API_KEYS": keys}
    server = start_serve(tmp_path, port, "--seed", str(seed), env=env)
    output: list[str] = []
    banner = read_until(server, output, "Ctrl-C stops everything", 120)
    follow(server, output)
    return server, banner, f"http://127.0.0.1:{port}"


ADMIN = r"an admin key: it may also manage partners\)"


@pytest.mark.parametrize(
    ("keys", "line", "writes"),
    [
        (
            None,
            r"write key (\S{24,}) \(new at each start; DIAMONDS_API_KEYS=KEY pins one; " + ADMIN,
            201,
        ),
        ("read:partner, team-key", r"write key (team-key) \(DIAMONDS_API_KEYS; " + ADMIN, 201),
        ("read:abc", r"write key none \(DIAMONDS_API_KEYS holds read-only keys only\)", 403),
    ],
    ids=["generated", "pinned", "read-only"],
)
def test_any_key_list_starts_and_the_banner_says_where_the_write_key_comes_from(
    tmp_path: Path, keys: str | None, line: str, writes: int
) -> None:
    server, banner, url = started(tmp_path, keys)
    try:
        found = re.search(line, banner)
        assert found, banner
        key = found.group(1) if found.groups() else "abc"
        created = requests.post(
            f"{url}/v1/diamonds",
            json={**STONE, "price": 8000},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert created.status_code == writes, created.text
        assert requests.get(f"{url}/v1/diamonds?limit=1", timeout=30).status_code == 200
    finally:
        stop(server)


def test_the_address_it_prints_answers_with_the_pricing_desk(tmp_path: Path) -> None:
    server, banner, url = started(tmp_path, None)
    try:
        assert f"diamonds is serving at {url}\n" in banner
        page = requests.get(f"{url}/", timeout=30)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "<title>Pricing desk</title>" in page.text
        docs = requests.get(f"{url}/v1/docs", timeout=30)
        assert docs.status_code == 200 and "curl" in docs.text
    finally:
        stop(server)


def test_a_taken_port_fails_first_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = start_serve(tmp_path, port)
        output, _ = server.communicate(timeout=120)
    assert server.returncode == 2
    assert output.strip().splitlines() == [
        f"diamonds: error: cannot serve on 127.0.0.1:{port}: Address already in use"
    ]
    assert "key" not in output and not (tmp_path / ".diamonds").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DIAMONDS_MAX_BODY_BYTES", "lots"),
        ("DIAMONDS_TRAINING_RUNNER", "cluster"),
        ("DIAMONDS_READ_REQUIRES_KEY", "perhaps"),
        ("DIAMONDS_CHAMPION_TTL_SECONDS", "-5"),
        ("DIAMONDS_DATABASE_URL", "mysql://db/diamonds"),
        ("DIAMONDS_MODELS_ROOT", "ftp://host/models"),
        ("DIAMONDS_DATA_ROOT", "gs://"),
    ],
)
def test_a_bad_setting_stops_a_function_at_start_with_one_line(variable: str, value: str) -> None:
    console = Path(sys.executable).with_name("functions-framework")
    source = Path(__file__).resolve().parents[2] / "functions" / "main.py"
    done = subprocess.run(
        [str(console), "--source", str(source), "--target", "pricing", "--port", str(free_port())],
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert variable in done.stderr and "Traceback" not in done.stderr
