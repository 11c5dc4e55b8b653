"""The Vertex AI training job is configured as the functions that launch it are.

Terraform sets the training settings (training.config.TrainingSettings: the storage roots, the
gate's tolerance) on the functions that launch training; the job only gets what the runner
passes on (functions/vertex.py, VertexRunner.job_spec). Each of those settings must reach the
job with its value, and the runner must pass nothing the job does not read.
"""

from __future__ import annotations

import pytest

from functions.settings import ServiceSettings
from functions.vertex import VertexRunner
from tests.infra.terraform_config import ROOT, attr, listed_names
from training.config import PREFIX, TrainingSettings

TRAINING_SETTINGS = {PREFIX + name.upper() for name in TrainingSettings.model_fields}

# A value for each setting Terraform gives a launching function, as an apply would set it.
SAMPLES = {
    "DIAMONDS_DATA_ROOT": "gs://p-diamonds-data",
    "DIAMONDS_MODELS_ROOT": "gs://p-diamonds-models",
    "DIAMONDS_GATE_TOLERANCE": "0.05",
    "DIAMONDS_GCP_PROJECT": "p",
    "DIAMONDS_GCP_REGION": "europe-west1",
    "DIAMONDS_LOG_LEVEL": "DEBUG",
    "DIAMONDS_TRAINING_RUNNER": "vertex",
    "DIAMONDS_TRAINING_IMAGE": "europe-west1-docker.pkg.dev/p/diamonds-training/training:abc",
    "DIAMONDS_VERTEX_SERVICE_ACCOUNT": "diamonds-trainer@p.iam.gserviceaccount.com",
    "DIAMONDS_VERTEX_STAGING_BUCKET": "gs://p-diamonds-vertex-staging",
    "DIAMONDS_VERTEX_MACHINE_TYPES": "0:n1-standard-4,4000000:n1-highmem-8",
    "DIAMONDS_INGEST_LEASE_SECONDS": "600",
    "DIAMONDS_READ_REQUIRES_KEY": "true",
}

LAUNCHERS = sorted(
    name
    for name, fn in ROOT["locals"]["functions"].items()
    if "DIAMONDS_TRAINING_RUNNER" in listed_names(fn["env"])
)


def function_environment(function: str) -> dict[str, str]:
    names = listed_names(ROOT["locals"]["functions"][function]["env"])
    missing = set(names) - set(SAMPLES)
    assert not missing, f"give {sorted(missing)} a sample value in this test"
    return {name: SAMPLES[name] for name in names}


def job_environment(settings: ServiceSettings) -> dict[str, str]:
    spec = VertexRunner(settings).job_spec("gs://p-diamonds-data/snapshots/s.csv", "r1", "api")
    [pool] = spec["job_spec"]["worker_pool_specs"]
    return {item["name"]: item["value"] for item in pool["container_spec"]["env"]}


def test_retrain_and_ingest_launch_training() -> None:
    assert LAUNCHERS == ["ingest", "retrain"]


@pytest.mark.parametrize("function", LAUNCHERS)
def test_the_runner_passes_only_settings_the_training_job_reads(function: str) -> None:
    settings = ServiceSettings.from_environment(function_environment(function))
    passed = set(job_environment(settings))
    assert passed <= TRAINING_SETTINGS, (
        f"the training job reads none of {passed - TRAINING_SETTINGS}"
    )


@pytest.mark.parametrize("function", LAUNCHERS)
def test_every_training_setting_terraform_defines_reaches_the_job(function: str) -> None:
    environment = function_environment(function)
    given = {name: value for name, value in environment.items() if name in TRAINING_SETTINGS}
    assert given, f"{function} launches training but gets no training setting"
    job = job_environment(ServiceSettings.from_environment(environment))
    assert set(given) <= set(job), f"{sorted(set(given) - set(job))} never reach the job"
    assert TrainingSettings.from_environment(job) == TrainingSettings.from_environment(given)


def test_every_training_setting_terraform_defines_is_given_to_the_launchers() -> None:
    defined = set(ROOT["locals"]["environment"]) & TRAINING_SETTINGS
    for function in LAUNCHERS:
        missing = defined - set(function_environment(function))
        assert not missing, f"{function} launches training without {sorted(missing)}"


def test_a_hung_training_job_is_stopped_within_hours() -> None:
    """Without a timeout Vertex AI lets a custom job run, and bills it, for 7 days."""
    settings = ServiceSettings.from_environment(function_environment("retrain"))
    spec = VertexRunner(settings).job_spec("gs://p-diamonds-data/snapshots/s.csv", "r1", "api")
    timeout = spec["job_spec"]["scheduling"]["timeout"]
    assert timeout.endswith("s") and 0 < int(timeout[:-1]) <= 6 * 3600


def test_terraform_s_machine_rule_is_one_the_runner_reads() -> None:
    default = attr(ROOT["variable"]["training_machine_types"], "default")
    expression = ROOT["locals"]["environment"]["DIAMONDS_VERTEX_MACHINE_TYPES"]
    assert "${m.from_stones}:${m.machine_type}" in expression
    rule = ",".join(f"{m['from_stones']}:{m['machine_type']}" for m in default)
    settings = ServiceSettings.from_environment({**SAMPLES, "DIAMONDS_VERTEX_MACHINE_TYPES": rule})
    assert settings.vertex_machine_types == tuple(
        (m["from_stones"], m["machine_type"]) for m in default
    )
