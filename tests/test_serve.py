"""`diamonds serve`, the README's run command: the whole local stack on the embedded defaults."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from functions.serve import function_for

from .service_fixtures import free_port


@pytest.mark.parametrize(
    ("path", "function"),
    [
        ("/v1/price", "pricing"),
        ("/v1/diamonds", "inventory"),
        ("/v1/diamonds/7", "inventory"),
        ("/v1/models/v1/promote", "models"),
        ("/v1/runs/r1", "models"),
        ("/v1/retrain", "retrain"),
        ("/v1/openapi.json", "pricing"),
        ("/healthz", "pricing"),
        ("/v1/pricey", "pricing"),
        ("/v1/diamondsX", "pricing"),
    ],
)
def test_paths_go_to_the_function_the_cloud_routes_them_to(path: str, function: str) -> None:
    assert function_for(path) == function


@pytest.mark.slow
def test_serve_seeds_trains_serves_and_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAMONDS_")}
    console = Path(sys.executable).with_name("diamonds")
    server = subprocess.Popen(
        [str(console), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while not any("Ctrl-C stops everything" in line for line in output):
            assert server.poll() is None and time.monotonic() < deadline, "".join(output)
            output.append(server.stdout.readline())
        text = "".join(output)
        assert "inventory seeded: 53,738 stones (202 quarantined)" in text
        assert "[gate] promoted" in text
        key = re.search(r"write key (\S+)", text).group(1)

        stone = {
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
        priced = requests.post(f"{url}/v1/price?comparables=3", json=stone, timeout=30).json()
        assert 4000 < priced["price"] < 12000 and len(priced["comparables"]) == 3
        assert requests.get(f"{url}/v1/diamonds?limit=1", timeout=30).json()["total"] == 53738
        started = requests.post(
            f"{url}/v1/retrain", json={}, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        assert started.status_code == 202
        trainer = started.json()["job"]["pid"]
        assert (tmp_path / ".diamonds" / "diamonds.db").is_file()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(trainer, 0)


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
    source = Path(__file__).resolve().parents[1] / "functions" / "main.py"
    done = subprocess.run(
        [str(console), "--source", str(source), "--target", "pricing", "--port", str(free_port())],
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert variable in done.stderr and "Traceback" not in done.stderr
