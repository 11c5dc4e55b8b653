"""The Vertex AI runner, with the real Google client pointed at a local endpoint that records
what it was sent and answers as the Vertex AI REST API does."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.retraining import make_runner
from functions.settings import ServiceSettings
from functions.vertex import RunnerError, VertexRunner, label_value
from tests.local_server import QuietHandler, local_server
from training.config import settings_problem

JOB_NAME = "projects/p/locations/r/customJobs/123"
IMAGE = "europe-west1-docker.pkg.dev/p/diamonds/training:1"
SNAPSHOT = "gs://data/snapshots/20250101T000000000000Z.csv"


@dataclass
class FakeVertex:
    url: str
    requests: list[dict] = field(default_factory=list)
    error: tuple[int, dict] | None = None
    state: str = "JOB_STATE_RUNNING"
    job_error: str = ""


@pytest.fixture
def vertex() -> Iterator[FakeVertex]:
    fake = FakeVertex(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            fake.requests.append({"method": "POST", "path": self.path, "body": body})
            if fake.error is not None:
                self.answer(*fake.error)
            elif self.path.split("?")[0].endswith("/customJobs"):
                job = {**body, "name": JOB_NAME, "state": "JOB_STATE_QUEUED"}
                self.answer(200, job)
            else:
                self.answer(404, {"error": {"code": 404, "message": "no such method"}})

        def do_GET(self) -> None:
            fake.requests.append({"method": "GET", "path": self.path})
            if "/customJobs/" in self.path:
                error = {"code": 3, "message": fake.job_error} if fake.job_error else {}
                self.answer(200, {"name": JOB_NAME, "state": fake.state, "error": error})
            else:
                self.answer(404, {"error": {"code": 404, "message": "no such method"}})

        def answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with local_server(Handler) as url:
        fake.url = url
        yield fake


def settings(endpoint: str = "", **overrides: str) -> ServiceSettings:
    values = {
        "training_runner": "vertex",
        "gcp_project": "p",
        "gcp_region": "europe-west1",
        "training_image": IMAGE,
        "vertex_service_account": "trainer@p.iam.gserviceaccount.com",
        "vertex_staging_bucket": "gs://staging",
        "vertex_endpoint": endpoint,
        "data_root": "gs://data",
        "models_root": "gs://models",
    }
    return ServiceSettings(**{**values, **overrides})


def test_submits_the_training_job(vertex: FakeVertex) -> None:
    job = VertexRunner(settings(vertex.url)).start(SNAPSHOT, "20250101T000000Z-abc123", "api")

    assert job == {"runner": "vertex", "job": JOB_NAME, "state": "JOB_STATE_QUEUED"}
    [request] = vertex.requests
    assert request["method"] == "POST"
    assert request["path"].split("?")[0] == "/v1/projects/p/locations/europe-west1/customJobs"
    body = request["body"]
    assert body["displayName"] == "diamonds-train-20250101T000000Z-abc123"
    assert body["labels"] == {"app": "diamonds", "trigger": "api"}
    spec = body["jobSpec"]
    assert spec["serviceAccount"] == "trainer@p.iam.gserviceaccount.com"
    assert spec["baseOutputDirectory"]["outputUriPrefix"].startswith("gs://staging/")
    [pool] = spec["workerPoolSpecs"]
    assert pool["machineSpec"] == {"machineType": "n1-standard-4"}
    assert int(pool["replicaCount"]) == 1
    container = pool["containerSpec"]
    assert container["imageUri"] == IMAGE
    assert container["args"] == [
        SNAPSHOT,
        "--run-id",
        "20250101T000000Z-abc123",
        "--trigger",
        "api",
    ]
    assert container["env"] == [
        {"name": "DIAMONDS_DATA_ROOT", "value": "gs://data"},
        {"name": "DIAMONDS_MODELS_ROOT", "value": "gs://models"},
        {"name": "DIAMONDS_GATE_TOLERANCE", "value": "0.02"},
    ]


def test_the_machine_follows_the_size_of_the_snapshot(vertex: FakeVertex) -> None:
    rule = "0:n1-standard-4, 1000000:n1-highmem-8,5000000:n1-highmem-16"
    runner = VertexRunner(settings(vertex.url, vertex_machine_types=rule))
    for stones in (0, 999_999, 1_000_000, 4_999_999, 5_000_000, 80_000_000):
        runner.start(SNAPSHOT, "r1", "ingest", stones)
    machines = [
        r["body"]["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["machineType"]
        for r in vertex.requests
    ]
    assert (
        machines
        == ["n1-standard-4", "n1-standard-4", "n1-highmem-8", "n1-highmem-8"]
        + ["n1-highmem-16"] * 2
    )


@pytest.mark.parametrize(
    "rule",
    ["", "n1-standard-4", "1000:n1-standard-4", "0:n1-standard-4,0:n1-highmem-8", "0:N1 big"],
)
def test_an_unusable_machine_rule_is_named(rule: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ServiceSettings.from_environment({"DIAMONDS_VERTEX_MACHINE_TYPES": rule})
    assert "DIAMONDS_VERTEX_MACHINE_TYPES" in settings_problem(refused.value)


def test_labels_are_sanitised_and_the_staging_bucket_is_optional(vertex: FakeVertex) -> None:
    runner = VertexRunner(settings(vertex.url, vertex_staging_bucket=""))
    runner.start(SNAPSHOT, "r1", "Ingest:New File.CSV")

    body = vertex.requests[0]["body"]
    assert body["labels"]["trigger"] == "ingest-new-file-csv"
    assert "baseOutputDirectory" not in body["jobSpec"]
    assert body["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]["args"][-1] == (
        "Ingest:New File.CSV"
    )


def test_label_values_follow_gcp_rules() -> None:
    assert label_value("API") == "api"
    assert label_value("x" * 100) == "x" * 63
    assert label_value("é/ü") == "---"


def test_an_api_error_is_a_runner_error(vertex: FakeVertex) -> None:
    message = "Permission 'aiplatform.customJobs.create' denied on resource\n'projects/p'."
    vertex.error = (
        403,
        {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}},
    )

    with pytest.raises(RunnerError) as caught:
        VertexRunner(settings(vertex.url)).start(SNAPSHOT, "r1", "api")

    text = str(caught.value)
    assert caught.value.status == 403
    assert "\n" not in text
    assert text == (
        "Vertex AI refused the training job (403): "
        "Permission 'aiplatform.customJobs.create' denied on resource 'projects/p'."
    )


def test_an_unreachable_api_is_a_runner_error() -> None:
    runner = VertexRunner(settings("http://127.0.0.1:9"))

    with pytest.raises(RunnerError, match="unreachable") as caught:
        runner.start(SNAPSHOT, "r1", "api")
    assert caught.value.status is None


@pytest.mark.parametrize(
    ("field_name", "variable"),
    [
        ("gcp_project", "DIAMONDS_GCP_PROJECT"),
        ("gcp_region", "DIAMONDS_GCP_REGION"),
        ("training_image", "DIAMONDS_TRAINING_IMAGE"),
        ("vertex_service_account", "DIAMONDS_VERTEX_SERVICE_ACCOUNT"),
    ],
)
def test_missing_settings_are_named(field_name: str, variable: str) -> None:
    with pytest.raises(ValueError, match=variable):
        VertexRunner(settings(**{field_name: ""}))


def test_the_regional_endpoint_is_the_default() -> None:
    assert VertexRunner(settings()).endpoint == "europe-west1-aiplatform.googleapis.com"


def test_make_runner_chooses_vertex() -> None:
    assert isinstance(make_runner(settings(), lambda job, how: None), VertexRunner)


def test_serving_does_not_import_the_vertex_client(tmp_path: Path) -> None:
    code = (
        "import functions.main, sys; "
        "print(any(m.startswith('google.cloud.aiplatform') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_retrain_with_an_unconfigured_vertex_runner_is_a_clear_503(tmp_path, monkeypatch) -> None:
    from functions_framework import create_app

    from functions.database import migrate

    monkeypatch.chdir(tmp_path)
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(database_url)
    for name, value in {
        "DIAMONDS_DATA_ROOT": (tmp_path / "data").as_uri(),
        "DIAMONDS_MODELS_ROOT": (tmp_path / "models").as_uri(),
        "DIAMONDS_DATABASE_URL": database_url,
        "DIAMONDS_API_KEYS": "k",
        "DIAMONDS_TRAINING_RUNNER": "vertex",
    }.items():
        monkeypatch.setenv(name, value)
    main = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")
    auth = {"Authorization": "Bearer k"}
    stone = {
        "carat": 1.0,
        "cut": "Ideal",
        "color": "E",
        "clarity": "VS1",
        "depth": 61.5,
        "table": 57,
        "x": 6.4,
        "y": 6.43,
        "z": 3.95,
        "price": 7000,
    }
    created = (
        create_app("inventory", main).test_client().post("/v1/diamonds", json=stone, headers=auth)
    )
    assert created.status_code == 201
    answer = create_app("retrain", main).test_client().post("/v1/retrain", json={}, headers=auth)
    assert answer.status_code == 503
    assert "DIAMONDS_GCP_PROJECT" in answer.get_json()["detail"]


def test_a_job_that_ended_without_finishing_its_run_is_reported(vertex: FakeVertex) -> None:
    runner = VertexRunner(settings(vertex.url))
    job = {"runner": "vertex", "job": JOB_NAME, "state": "JOB_STATE_QUEUED"}
    assert runner.ended(job) is None
    vertex.state, vertex.job_error = "JOB_STATE_FAILED", "Image not found:\n  gcr.io/x"
    ended = runner.ended(job)
    assert ended == f"Vertex AI job {JOB_NAME} ended JOB_STATE_FAILED: Image not found: gcr.io/x"
    assert vertex.requests[-1]["path"].split("?")[0] == f"/v1/{JOB_NAME}"
    assert runner.ended({"runner": "local", "pid": 1}) is None
    assert VertexRunner(settings("http://127.0.0.1:9")).ended(job) is None


def test_vertex_runs_go_through_the_single_flight_rule(vertex: FakeVertex, tmp_path: Path) -> None:
    from functions.database import migrate
    from functions.instance import Instance
    from tests.functions.database.stones import stone

    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(database_url)
    instance = Instance(
        settings(
            vertex.url,
            data_root=(tmp_path / "data").as_uri(),
            models_root=(tmp_path / "models").as_uri(),
            database_url=database_url,
        )
    )
    instance.inventory.create_many([stone(0.3 + i / 100) for i in range(20)], source="api")

    def ask(reason: str) -> dict:
        return instance.retraining.request(trigger="api", reason=reason, caller="key:abc")

    first = ask("first")
    assert first["job"]["job"] == JOB_NAME and first["running"] is None
    second, third = ask("second"), ask("third")
    assert second["running"] == third["running"] == first["run_id"]
    assert third["coalesced"] and second["run_id"] == third["run_id"]
    created = [r for r in vertex.requests if r["method"] == "POST"]
    assert len(created) == 1

    vertex.state, vertex.job_error = "JOB_STATE_FAILED", "quota exceeded"
    fourth = ask("fourth")
    assert fourth["run_id"] == second["run_id"] and fourth["running"] is None
    assert len([r for r in vertex.requests if r["method"] == "POST"]) == 2
    failed = instance.registry.run(first["run_id"])
    assert failed["status"] == "failed" and "quota exceeded" in failed["error"]
    assert failed["reason"] == "first" and failed["requested_by"] == "key:abc"
    follow_up = instance.schedule.run(fourth["run_id"])
    assert [r["reason"] for r in follow_up["requests"]] == ["second", "third", "fourth"]
