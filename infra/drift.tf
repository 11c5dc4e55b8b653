# The daily monitoring check: Cloud Scheduler publishes a CloudEvent of type
# diamonds.monitoring.check.v1 each morning, and a push subscription delivers it to `ingest`,
# the function that already reads the database and the models and that only pushes signed by
# the push identity reach. It computes the last day's drift of the stones priced against the
# champion's training stones and the champion's live accuracy, and writes one log line per
# characteristic (modules/monitoring counts the lines that cross their threshold and alerts).
# docs/operations.md, "Drift and live accuracy", says what an alert means and what to do.

locals {
  monitoring_check_type = "diamonds.monitoring.check.v1"
}

resource "google_pubsub_topic" "monitoring_check" {
  # checkov:skip=CKV_GCP_83:Messages hold only the daily check's empty event, no data; Google-managed encryption at rest suffices and a customer key would add key administration without reducing a risk.
  project = var.project_id
  name    = "${var.name}-monitoring-check"
  labels  = local.labels

  depends_on = [time_sleep.apis_ready]
}

resource "google_pubsub_subscription" "monitoring_check" {
  project = var.project_id
  name    = "${var.name}-monitoring-check"
  topic   = google_pubsub_topic.monitoring_check.id
  labels  = local.labels

  ack_deadline_seconds = 600
  # A check missed for a day is replaced by the next day's: an old one is not worth keeping.
  message_retention_duration = "86400s"

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

  retry_policy {
    minimum_backoff = "60s"
    maximum_backoff = "600s"
  }

  # A check that keeps failing joins the uploads' dead letters (its ce-type attribute tells it
  # apart), where the dead-letter alert sees it.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.ingest_dead_letter.id
    max_delivery_attempts = 5
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_service_account_iam_member.pubsub_agent_signs_for_push,
  ]
}

resource "google_pubsub_subscription_iam_member" "monitoring_check_dead_letter" {
  project      = var.project_id
  subscription = google_pubsub_subscription.monitoring_check.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_cloud_scheduler_job" "monitoring_check" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name}-monitoring-check"
  description = "Daily drift and live accuracy check (one log line per characteristic)"
  schedule    = "15 0 * * *"
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.monitoring_check.id
    data       = base64encode("{}")
    attributes = {
      "ce-specversion" = "1.0"
      "ce-id"          = "${var.name}-monitoring-check"
      "ce-type"        = local.monitoring_check_type
      "ce-source"      = "//cloudscheduler.googleapis.com/projects/${var.project_id}/locations/${var.region}/jobs/${var.name}-monitoring-check"
    }
  }

  depends_on = [time_sleep.apis_ready]
}
