"""An upload, and its deletion, reach `ingest` the way infra/events.tf delivers them.

Cloud Storage publishes the object's notification (payload: the object resource; attributes:
its own, and the custom ones Terraform gives it) and the ingest subscription pushes it unwrapped
with its metadata: the body is the payload, every attribute is an HTTP header and the message's
metadata are x-goog-pubsub-* headers. The requests below are built from the Terraform
configuration, and posted to the real `ingest` under functions-framework, on the cloud's parts
(PostgreSQL, the GCS emulator).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from local.eventarc import event_for
from tests.infra.terraform_config import ROOT, attr, ref
from tests.ingestion_fixtures import (
    CONFIGS,
    csv_bytes,
    drop_file,
    ledger_row,
    remove_file,
    wait_idle,
)
from tests.service_fixtures import Stack
from training.storage import StoredObject, open_storage

pytestmark = pytest.mark.slow


def notification_attributes(event: str, bucket: str) -> dict[str, str]:
    """The custom attributes Terraform gives the notification of `event` (its key in
    local.upload_events), with the values an apply gives them."""
    notification = ROOT["resource"]["google_storage_notification.uploads"]
    values = {
        ref("each.key"): event,
        ref("each.value.type"): ROOT["locals"]["upload_events"][event]["type"],
        ref("local.upload_source"): ROOT["locals"]["upload_source"],
        ref("google_storage_bucket.data.name"): bucket,
        ref("var.name"): "diamonds-dev",
    }
    attributes = {}
    for key, value in attr(notification, "custom_attributes").items():
        for expression, replacement in values.items():
            value = value.replace(expression, replacement)
        attributes[key] = value
    assert "$" not in str(attributes), attributes
    return attributes


def pushed(
    stack: Stack, obj: StoredObject, event: str = "finalized", attempt: int = 1
) -> requests.Response:
    """POST what the ingest subscription pushes for the object's notification of `event`."""
    storage = open_storage(stack.data_root)
    bucket, name = storage.location(obj.key)
    # The notification's payload is the object resource, as the local Eventarc's body is.
    _, payload = event_for(storage, obj)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    attributes = {
        "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/1",
        "eventType": "OBJECT_FINALIZE" if event == "finalized" else "OBJECT_ARCHIVE",
        "payloadFormat": "JSON_API_V1",
        "bucketId": bucket,
        "objectId": name,
        "objectGeneration": obj.generation,
        "eventTime": now,
        **notification_attributes(event, bucket),
    }
    metadata = {
        "x-goog-pubsub-subscription-name": "projects/p/subscriptions/diamonds-ingest",
        "x-goog-pubsub-message-id": str(10_000 + attempt),
        "x-goog-pubsub-publish-time": now,
    }
    return requests.post(
        f"http://127.0.0.1:{stack.ports['ingest']}/",
        data=payload,
        headers={**attributes, **metadata},
        timeout=120,
    )


@pytest.mark.parametrize(
    "pipeline", [c for c in CONFIGS if c.id == "postgresql-gcs"], indirect=True
)
def test_an_upload_pushed_by_the_subscription_is_ingested_once_and_withdrawn_when_deleted(
    pipeline: Stack, fresh_stones
) -> None:
    stones = fresh_stones.iloc[30_000:30_050]
    obj = drop_file(pipeline, "incoming/pushed/2026-12.csv", csv_bytes(stones))

    answer = pushed(pipeline, obj)

    assert answer.status_code == 200, answer.text
    row = ledger_row(pipeline, obj)
    assert row["status"] == "done", row
    assert (row["rows_read"], row["accepted"], row["inserted"]) == (50, 50, 50)
    # A redelivery (another message id, as a retry after a lost answer) changes nothing.
    again = pushed(pipeline, obj, attempt=2)
    assert again.status_code == 200, again.text
    assert ledger_row(pipeline, obj)["attempts"] == 1
    wait_idle(pipeline)

    remove_file(pipeline, obj.key)
    gone = pushed(pipeline, obj, "deleted", attempt=3)

    assert gone.status_code == 200, gone.text
    row = ledger_row(pipeline, obj, "deleted")
    assert row["status"] == "done" and row["withdrawn"] == 50, row
    wait_idle(pipeline)
