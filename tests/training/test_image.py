"""The training image, built with buildah and run with podman the way Vertex AI runs it.

The image is built once per test run by the script `make image` runs (training/image/build.sh);
its first build on a machine takes minutes, later ones reuse the base and buildah's layers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from functions.settings import ServiceSettings
from functions.vertex import VertexRunner
from tests.gcs_emulator import gcs_client
from tests.training_fixtures import CUSTOMER_FILE, FAST, REPO
from training.registry import Registry
from training.storage import open_storage

IMAGE = "localhost/diamonds-training:test"
BUILD = REPO / "training" / "image" / "build.sh"
RUN = REPO / "training" / "image" / "run.sh"
TOOLS = ("buildah", "podman", "runc", "debootstrap")
TRAINER_UID = 10001
MAX_IMAGE_BYTES = 400_000_000
SNAPSHOT = "snapshots/20250101T000000000000Z.csv"
FAST_PARAMS = [
    f"--param=n_estimators={FAST.n_estimators}",
    f"--param=calibration_folds={FAST.calibration_folds}",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the training image cannot be built on CI: {reason}")
    pytest.skip(f"the training image cannot be built here: {reason}")


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The training image, built from this checkout once per test run.

    pytest-xdist's workers each hold this session fixture, and two builds of the one tag at
    once would race for it: the first worker to ask builds while the others wait on a lock in
    the temporary folder the run's workers share, then use the image it built.
    """
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} missing (apt-get install {' '.join(TOOLS)})")
    if os.geteuid() != 0:
        _unavailable("debootstrap and buildah's chroot isolation need root")
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    with FileLock(shared / "training-image.lock"):
        done = shared / "training-image.built"
        if not done.exists():
            built = subprocess.run([BUILD, IMAGE], capture_output=True, text=True, timeout=1200)
            assert built.returncode == 0, f"the image build failed:\n{built.stderr[-4000:]}"
            done.touch()
    return IMAGE


def run(
    image: str, *options: str, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess:
    environment = [f"--env={name}={value}" for name, value in env.items()]
    return subprocess.run(
        [RUN, *options, *environment, image, *args], capture_output=True, text=True, timeout=600
    )


def vertex_container(
    image: str, data_bucket: str, models_bucket: str, key: str, run_id: str
) -> dict:
    """The container that the Vertex AI runner would start for a run on the snapshot `key`."""
    settings = ServiceSettings(
        training_runner="vertex",
        gcp_project="p",
        training_image=image,
        vertex_service_account="trainer@p.iam.gserviceaccount.com",
        data_root=f"gs://{data_bucket}",
        models_root=f"gs://{models_bucket}",
    )
    spec = VertexRunner(settings).job_spec(f"gs://{data_bucket}/{key}", run_id, "api")
    [pool] = spec["job_spec"]["worker_pool_specs"]
    return pool["container_spec"]


@dataclass
class VertexRun:
    """A run of the image on a snapshot in the emulator's DATA bucket, as a CustomJob runs it."""

    image: str
    emulator: str
    data: str
    models: str

    def __call__(self, key: str, run_id: str) -> subprocess.CompletedProcess:
        container = vertex_container(self.image, self.data, self.models, key, run_id)
        env = {e["name"]: e["value"] for e in container["env"]}
        return run(
            container["image_uri"],
            "--network=host",  # GCS is the emulator on the host
            args=container["args"],
            env={**env, "STORAGE_EMULATOR_HOST": self.emulator},
        )


@pytest.fixture(scope="module")
def vertex_run(image: str, gcs_server: str) -> VertexRun:
    """Fresh DATA and MODELS buckets, shared by the tests of this module that train on GCS."""
    data = f"test-{uuid.uuid4().hex[:16]}"
    for bucket in (data, f"{data}-models"):
        gcs_client().create_bucket(bucket)
    return VertexRun(image, gcs_server, data, f"{data}-models")


@pytest.fixture(scope="module")
def first_vertex_run(vertex_run: VertexRun, customer_csv: bytes) -> subprocess.CompletedProcess:
    """The first run on GCS: the customer's first 300 stones, as a snapshot."""
    snapshot = b"".join(customer_csv.splitlines(keepends=True)[:301])
    open_storage(f"gs://{vertex_run.data}").write(SNAPSHOT, snapshot)
    return vertex_run(SNAPSHOT, "r-first")


def test_the_training_job_group_repeats_the_projects_own_bounds() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = pyproject["project"]
    declared = set(project["dependencies"]).union(*project["optional-dependencies"].values())
    assert set(pyproject["dependency-groups"]["training-job"]) <= declared


@pytest.mark.image
def test_the_image_is_lean_labelled_and_runs_as_a_user(image: str) -> None:
    [info] = json.loads(
        subprocess.run(
            ["podman", "image", "inspect", image], capture_output=True, check=True
        ).stdout
    )
    config = info["Config"]
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert config["Labels"]["org.opencontainers.image.revision"].startswith(head)
    assert "org.opencontainers.image.source" in config["Labels"]
    assert config["Entrypoint"] == ["python", "-m", "training"]
    assert config["User"] == "trainer"
    assert info["Size"] <= MAX_IMAGE_BYTES, f"the image weighs {info['Size'] / 1e6:.0f} MB"

    tools = run(
        image,
        "--network=none",
        "--entrypoint=sh",
        args=["-c", "command -v pip gcc cc make; python -m pip --version"],
        env={},
    )
    assert tools.stdout == "" and "No module named pip" in tools.stderr


@pytest.mark.image
def test_trains_on_the_customer_file_into_a_mounted_folder(
    image: str, customer_csv: bytes, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # the image's user may write there, as to a bucket it is granted

    result = run(
        image,
        "--network=none",
        f"--volume={CUSTOMER_FILE}:/in/diamonds.csv:ro",
        f"--volume={out}:/out",
        args=["file:///in/diamonds.csv", *FAST_PARAMS],
        env={
            "DIAMONDS_DATA_ROOT": "file:///out/data",
            "DIAMONDS_MODELS_ROOT": "file:///out/models",
        },
    )

    assert result.returncode == 0, result.stderr
    assert "5000 rows read, 4984 accepted, 16 quarantined" in result.stdout
    registry = Registry(open_storage(str(out / "models")))
    [version] = registry.versions()
    assert registry.champion()["version"] == version
    assert registry.metadata(version)["lineage"]["rows_accepted"] == 4984
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and {p.stat().st_uid for p in written} == {TRAINER_UID}


@pytest.mark.image
@pytest.mark.gcs
def test_trains_from_a_gcs_snapshot_as_a_vertex_ai_job(
    vertex_run: VertexRun, first_vertex_run: subprocess.CompletedProcess
) -> None:
    assert first_vertex_run.returncode == 0, first_vertex_run.stderr
    assert "300 rows read" in first_vertex_run.stdout
    registry = Registry(open_storage(f"gs://{vertex_run.models}"))
    record = registry.run("r-first")
    assert record["status"] == "succeeded"
    assert record["gate"]["decision"] == "promoted"
    assert registry.champion()["version"] == record["version"]
    assert registry.versions() == [record["version"]]


@pytest.mark.image
@pytest.mark.gcs
def test_a_bad_snapshot_exits_2_in_one_line_and_keeps_the_champion(
    vertex_run: VertexRun, first_vertex_run: subprocess.CompletedProcess
) -> None:
    registry = Registry(open_storage(f"gs://{vertex_run.models}"))
    champion = registry.champion()
    assert champion is not None
    bad = "snapshots/20250102T000000000000Z.csv"
    open_storage(f"gs://{vertex_run.data}").write(bad, b"carat,cut\n0.3,Ideal\n")

    result = vertex_run(bad, "r-bad")

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert bad in line and "error" in line
    assert registry.champion() == champion
    assert registry.run("r-bad")["status"] == "rejected_input"
