"""The Vertex AI training runner: each run is a CustomJob running the training image.

The Google client is imported only when a job is submitted, so that serving never pays for it.
"""

from __future__ import annotations

import re
from typing import Any

from functions.runners import RunnerError
from functions.settings import ServiceSettings

REQUIRED = {
    "gcp_project": "DIAMONDS_GCP_PROJECT",
    "gcp_region": "DIAMONDS_GCP_REGION",
    "training_image": "DIAMONDS_TRAINING_IMAGE",
    "vertex_service_account": "DIAMONDS_VERTEX_SERVICE_ACCOUNT",
}
SUBMIT_TIMEOUT_S = 30.0
JOB_TIMEOUT_S = 3600
"""Vertex AI stops a job that runs longer (a training run takes minutes; a hung one would be
billed for the service's default of 7 days)."""
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ENDED = frozenset(
    (
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
    )
)
"""CustomJob states after which the job's container runs no more."""


def label_value(text: str) -> str:
    """`text` as a GCP label value: lowercase letters, digits, `_` and `-`, at most 63 chars."""
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]


def _api_message(error: Any) -> str:
    """The API's own words, on one line, without the request line the client puts first."""
    return re.sub(r"^[A-Z]+ \S+: ", "", " ".join(str(error.message).split()))


def machine_type(rule: tuple[tuple[int, str], ...], stones: int) -> str:
    """The machine of the rule's last entry whose size the snapshot's stones reach."""
    return [machine for least, machine in rule if stones >= least][-1]


class VertexRunner:
    """Starts each training run as a Vertex AI CustomJob running the training image, on the
    machine the settings give for the snapshot's size (`vertex_machine_types`)."""

    start_grace = 3600.0
    """A CustomJob may queue for a long time before its container starts; `ended` sees a job
    that fails before then."""

    def __init__(self, settings: ServiceSettings) -> None:
        missing = [env for field, env in REQUIRED.items() if not getattr(settings, field).strip()]
        if missing:
            raise ValueError(f"the Vertex AI training runner needs {', '.join(missing)}")
        self.settings = settings
        self._client: Any = None

    @property
    def endpoint(self) -> str:
        return (
            self.settings.vertex_endpoint or f"{self.settings.gcp_region}-aiplatform.googleapis.com"
        )

    @property
    def parent(self) -> str:
        return f"projects/{self.settings.gcp_project}/locations/{self.settings.gcp_region}"

    def job_spec(self, snapshot_uri: str, run_id: str, trigger: str, stones: int = 0) -> dict:
        """The CustomJob to submit, as the fields of `aiplatform_v1.CustomJob`, for a snapshot
        of so many stones."""
        settings = self.settings
        container = {
            "image_uri": settings.training_image,
            "args": [snapshot_uri, "--run-id", run_id, "--trigger", trigger],
            "env": [
                {"name": name, "value": value}
                for name, value in settings.training_environment().items()
            ],
        }
        spec: dict[str, Any] = {
            "worker_pool_specs": [
                {
                    "machine_spec": {
                        "machine_type": machine_type(settings.vertex_machine_types, stones)
                    },
                    "replica_count": 1,
                    "container_spec": container,
                }
            ],
            "service_account": settings.vertex_service_account,
            "scheduling": {"timeout": f"{JOB_TIMEOUT_S}s"},
        }
        if settings.vertex_staging_bucket:
            bucket = settings.vertex_staging_bucket.removeprefix("gs://").strip("/")
            spec["base_output_directory"] = {
                "output_uri_prefix": f"gs://{bucket}/diamonds-train/{label_value(run_id)}"
            }
        return {
            "display_name": f"diamonds-train-{run_id}",
            "labels": {"app": "diamonds", "trigger": label_value(trigger)},
            "job_spec": spec,
        }

    def start(self, snapshot_uri: str, run_id: str, trigger: str, stones: int = 0) -> dict:
        from google.api_core.exceptions import GoogleAPICallError
        from google.auth.exceptions import GoogleAuthError
        from requests import RequestException

        try:
            from google.cloud import aiplatform_v1

            job = self.client().create_custom_job(
                parent=self.parent,
                custom_job=aiplatform_v1.CustomJob(
                    self.job_spec(snapshot_uri, run_id, trigger, stones)
                ),
                timeout=SUBMIT_TIMEOUT_S,
            )
        except GoogleAPICallError as e:
            status = int(e.code) if e.code is not None else None
            raise RunnerError(
                f"Vertex AI refused the training job ({status}): {_api_message(e)}", status
            ) from e
        except GoogleAuthError as e:
            raise RunnerError(f"no credentials for Vertex AI: {' '.join(str(e).split())}") from e
        except RequestException as e:
            raise RunnerError(
                f"Vertex AI at {self.endpoint} unreachable ({type(e).__name__})"
            ) from e
        return {"runner": "vertex", "job": job.name, "state": job.state.name}

    def ended(self, job: dict) -> str | None:
        """How the CustomJob ended (its state and error), or None while it runs or when the
        API cannot tell."""
        if job.get("runner") != "vertex" or not job.get("job"):
            return None
        from google.api_core.exceptions import GoogleAPICallError
        from google.auth.exceptions import GoogleAuthError
        from requests import RequestException

        try:
            state = self.client().get_custom_job(name=job["job"], timeout=SUBMIT_TIMEOUT_S)
        except (GoogleAPICallError, GoogleAuthError, RequestException):
            return None
        if state.state.name not in ENDED:
            return None
        error = " ".join(str(state.error.message).split()) if state.error.message else ""
        return f"Vertex AI job {job['job']} ended {state.state.name}" + (
            f": {error}" if error else ""
        )

    def client(self) -> Any:
        """The JobServiceClient, made on first use. An `http://` endpoint is a local stand-in
        for the API, which is called without credentials."""
        if self._client is None:
            import google.auth
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import aiplatform_v1

            if self.endpoint.startswith("http://"):
                credentials = AnonymousCredentials()
            else:
                credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
            self._client = aiplatform_v1.JobServiceClient(
                client_options={"api_endpoint": self.endpoint},
                transport="rest",
                credentials=credentials,
            )
        return self._client
