# Where an ingest event goes when it keeps failing. Eventarc delivers the data bucket's events
# through a Pub/Sub subscription it creates and owns (eventarc-<region>-<trigger>-sub-...):
# failed deliveries are retried with a backoff of 10 s growing to 600 s, for as long as the
# message is retained, 24 hours, and then dropped. Neither the Cloud Functions nor the
# Eventarc resources of the provider can configure that subscription, so Terraform makes the
# dead-letter topic, a subscription that keeps what lands there for 7 days and the grant the
# Pub/Sub service agent needs to publish to it; the ingest_dead_letter_commands output attaches
# the topic to Eventarc's subscription (infra/README.md, step 7). docs/architecture.md has the
# reasons.

locals {
  # Delivery attempts before a message is dead-lettered (Pub/Sub allows 5 to 100). With the
  # backoff above, mostly 600 s apart, 100 attempts take some 15 hours: an event that cannot
  # be handled for that long lands in the dead-letter topic before the 24-hour retention
  # would drop it.
  ingest_max_delivery_attempts = 100
  pubsub_agent                 = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "ingest_dead_letter" {
  # checkov:skip=CKV_GCP_83:Messages hold only the event of an upload (bucket, object name, generation, size), no data; Google-managed encryption at rest suffices and a customer key would add key administration without reducing a risk.
  project                    = var.project_id
  name                       = "${var.name}-ingest-dead-letter"
  labels                     = local.labels
  message_retention_duration = "604800s"

  depends_on = [time_sleep.apis_ready]
}

# A dead-letter topic without a subscription keeps nothing.
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

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.ingest_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}
