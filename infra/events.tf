# The path of an upload to `ingest`, every part of it Terraform's: the data bucket notifies a
# topic of each object finalized, and each object deleted, under incoming/, and a push
# subscription delivers each notification to the ingest function as the CloudEvent it
# expects, retrying with a backoff and dead-lettering what keeps failing. docs/architecture.md, "Retries and dead letters",
# has the reasons; Eventarc's own trigger would own the subscription, and no Terraform
# resource could give it a dead-letter topic.
#
# The push is unwrapped (the notification's payload, the object resource, is the body) and
# writes the message's attributes as HTTP headers: the notification's custom attributes are
# the ce-* headers of a binary-mode CloudEvent of the types ingest takes,
# google.cloud.storage.object.v1.finalized and .deleted (tests/infra/test_delivery.py posts
# exactly these to ingest).

locals {
  # Delivery attempts before a message is dead-lettered (Pub/Sub allows 5 to 100). With a
  # backoff of 10 s growing to 600 s, 100 attempts take some 15 hours, well inside the 7 days
  # the subscription keeps a message.
  ingest_max_delivery_attempts = 100
  pubsub_agent                 = google_project_service_identity.pubsub.member
  # One notification per CloudEvent type ingest takes. The data bucket is versioned: a file
  # deleted, or replaced by a new upload, has its live generation archived (OBJECT_ARCHIVE), and
  # a noncurrent generation expires later (OBJECT_DELETE); both are "deleted" to ingest, which
  # withdraws the file's stones only when no newer generation is live.
  upload_events = {
    finalized = { event_types = ["OBJECT_FINALIZE"], type = "google.cloud.storage.object.v1.finalized" }
    deleted   = { event_types = ["OBJECT_ARCHIVE", "OBJECT_DELETE"], type = "google.cloud.storage.object.v1.deleted" }
  }
  upload_source = "//storage.googleapis.com/projects/_/buckets/${google_storage_bucket.data.name}"
}

# The Pub/Sub service agent, created if the project has none yet: it publishes dead letters
# and signs the push requests' identity tokens.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [time_sleep.apis_ready]
}

resource "google_pubsub_topic" "uploads" {
  # checkov:skip=CKV_GCP_83:Messages hold only the event of an upload (bucket, object name, generation, size), no data; Google-managed encryption at rest suffices and a customer key would add key administration without reducing a risk.
  project = var.project_id
  name    = "${var.name}-uploads"
  labels  = local.labels

  depends_on = [time_sleep.apis_ready]
}

# Objects outside incoming/ (ingest's own quarantine/ and snapshots/) raise no event at all.
# The custom attributes are the CloudEvent's required ones, fixed per notification, the id
# too: nothing reads it (ingest keys on the object's bucket/name#generation, in the body), but
# functions-framework requires one.
resource "google_storage_notification" "uploads" {
  for_each = local.upload_events

  bucket             = google_storage_bucket.data.name
  topic              = google_pubsub_topic.uploads.id
  payload_format     = "JSON_API_V1"
  event_types        = each.value.event_types
  object_name_prefix = "incoming/"
  custom_attributes = {
    "ce-specversion" = "1.0"
    "ce-id"          = "${var.name}-${each.key}"
    "ce-type"        = each.value.type
    "ce-source"      = local.upload_source
  }

  # Cloud Storage checks, when the notification is made, that its agent may publish.
  depends_on = [time_sleep.grants_propagated]
}

resource "google_pubsub_subscription" "ingest" {
  project = var.project_id
  name    = "${var.name}-ingest"
  topic   = google_pubsub_topic.uploads.id
  labels  = local.labels

  # A delivery is answered within ingest's timeout (540 s): it is not sent again meanwhile.
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }

  push_config {
    push_endpoint = module.function["ingest"].uri

    oidc_token {
      service_account_email = google_service_account.ingest_push.email
      audience              = module.function["ingest"].uri
    }

    no_wrapper {
      write_metadata = true
    }
  }

  # A 409 (another delivery holds the file) or a 503 (an outage) comes back later.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.ingest_dead_letter.id
    max_delivery_attempts = local.ingest_max_delivery_attempts
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_service_account_iam_member.pubsub_agent_signs_for_push,
  ]
}

# Where an upload's event goes when it keeps failing.
resource "google_pubsub_topic" "ingest_dead_letter" {
  # checkov:skip=CKV_GCP_83:Messages hold only the event of an upload (bucket, object name, generation, size), no data; Google-managed encryption at rest suffices and a customer key would add key administration without reducing a risk.
  project                    = var.project_id
  name                       = "${var.name}-ingest-dead-letter"
  labels                     = local.labels
  message_retention_duration = "604800s"

  depends_on = [time_sleep.apis_ready]
}

# A dead-letter topic without a subscription keeps nothing. Nothing reads it but an operator
# (docs/operations.md) and the alert on its backlog, so it has no dead letters of its own.
resource "google_pubsub_subscription" "ingest_dead_letter" {
  project                    = var.project_id
  name                       = "${var.name}-ingest-dead-letter"
  topic                      = google_pubsub_topic.ingest_dead_letter.id
  labels                     = local.labels
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# Dead-lettering: the Pub/Sub agent publishes to the dead-letter topic and acknowledges the
# message on the subscription it leaves.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.ingest_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.ingest.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
