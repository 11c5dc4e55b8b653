# Identities and what each may do. Every function has its own service account
# (modules/function grants it the secrets it reads); this file grants bucket access, by
# prefix where a function writes only part of a bucket, the Vertex AI rights of the two
# functions that launch training, and the accounts of the training job, the build and the
# event trigger. No account holds a primitive role (owner, editor, viewer).

resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "${var.name}-fn-${each.key}"
  display_name = "Function ${each.key}"
  description  = "Runtime identity of the ${each.key} function."

  depends_on = [time_sleep.apis_ready]
}

resource "google_service_account" "trainer" {
  project      = var.project_id
  account_id   = "${var.name}-trainer"
  display_name = "Vertex AI training job"
  description  = "Runs python -m training: reads data, writes quarantine/, models/, champion.json and runs/."

  depends_on = [time_sleep.apis_ready]
}

resource "google_service_account" "builder" {
  project      = var.project_id
  account_id   = "${var.name}-builder"
  display_name = "Cloud Build for the functions"
  description  = "Builds the functions' images from the source archive."

  depends_on = [time_sleep.apis_ready]
}

resource "google_service_account" "eventarc" {
  project      = var.project_id
  account_id   = "${var.name}-eventarc"
  display_name = "Eventarc trigger of ingest"
  description  = "Identity Eventarc uses to deliver data-bucket events to the ingest function."

  depends_on = [time_sleep.apis_ready]
}

data "google_storage_project_service_account" "this" {
  project = var.project_id

  depends_on = [time_sleep.apis_ready]
}

locals {
  fn = { for key, sa in google_service_account.function : key => sa.member }

  # What a function that starts training writes in the MODELS root: run records, and the
  # single-flight schedule (the run in progress and the follow-up run queued behind it).
  run_records = ["runs/", "schedule.json"]

  # bucket access: key => (bucket, role, member, object prefixes or null for the whole bucket)
  bucket_grants = {
    pricing_models_read = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectViewer", member = local.fn["pricing"], prefixes = null }

    models_models_write = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectUser", member = local.fn["models"], prefixes = null }

    retrain_snapshots_write = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectUser", member = local.fn["retrain"], prefixes = ["snapshots/"] }
    retrain_models_read     = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectViewer", member = local.fn["retrain"], prefixes = null }
    retrain_runs_write      = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectUser", member = local.fn["retrain"], prefixes = local.run_records }
    retrain_staging_write   = { bucket = google_storage_bucket.vertex_staging.name, role = "roles/storage.objectUser", member = local.fn["retrain"], prefixes = null }

    ingest_data_read     = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectViewer", member = local.fn["ingest"], prefixes = null }
    ingest_data_write    = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectUser", member = local.fn["ingest"], prefixes = ["quarantine/", "snapshots/"] }
    ingest_models_read   = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectViewer", member = local.fn["ingest"], prefixes = null }
    ingest_runs_write    = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectUser", member = local.fn["ingest"], prefixes = local.run_records }
    ingest_staging_write = { bucket = google_storage_bucket.vertex_staging.name, role = "roles/storage.objectUser", member = local.fn["ingest"], prefixes = null }

    trainer_data_read     = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectViewer", member = google_service_account.trainer.member, prefixes = null }
    trainer_quarantine    = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectUser", member = google_service_account.trainer.member, prefixes = ["quarantine/"] }
    trainer_models_write  = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectUser", member = google_service_account.trainer.member, prefixes = null }
    trainer_staging_write = { bucket = google_storage_bucket.vertex_staging.name, role = "roles/storage.objectUser", member = google_service_account.trainer.member, prefixes = null }
  }

  # The functions that launch training need to create Vertex AI custom jobs (no
  # resource-level IAM exists for jobs) and to act as the training account only.
  launchers = toset(["retrain", "ingest"])
}

resource "google_storage_bucket_iam_member" "this" {
  for_each = local.bucket_grants

  bucket = each.value.bucket
  role   = each.value.role
  member = each.value.member

  dynamic "condition" {
    for_each = each.value.prefixes == null ? [] : [each.value.prefixes]

    content {
      title       = "only ${join(", ", condition.value)}"
      description = "Objects under ${join(" or ", condition.value)} only."
      expression  = join(" || ", [for prefix in condition.value : "resource.name.startsWith(\"projects/_/buckets/${each.value.bucket}/objects/${prefix}\")"])
    }
  }
}

resource "google_project_iam_member" "launcher_vertex" {
  for_each = local.launchers

  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = local.fn[each.key]
}

resource "google_service_account_iam_member" "launcher_acts_as_trainer" {
  for_each = local.launchers

  service_account_id = google_service_account.trainer.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.fn[each.key]
}

# Cloud Build, for the functions (and for the training image when an operator builds it with
# Cloud Build): the roles Google lists for a custom build service account. Logs; pushes to both
# image repositories; object admin on the functions' sources only: our archive bucket and the
# gcf-v2-sources/gcf-v2-uploads buckets into which Cloud Functions copies each archive before
# the build reads it there.
resource "google_project_iam_member" "builder" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.builder.member
}

resource "google_artifact_registry_repository_iam_member" "builder" {
  for_each = {
    functions = google_artifact_registry_repository.functions.name
    training  = google_artifact_registry_repository.training.name
  }

  project    = var.project_id
  location   = var.region
  repository = each.value
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.builder.member
}

resource "google_project_iam_member" "builder_sources" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.builder.member

  condition {
    title       = "function sources only"
    description = "The source archive bucket and the gcf-v2-* buckets Cloud Functions copies it to."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-\") || resource.name == \"projects/_/buckets/${google_storage_bucket.function_source.name}\" || resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.function_source.name}/\")"
  }
}

# Eventarc: the trigger's identity receives events (and, in modules/function, may invoke
# ingest); the Cloud Storage service agent publishes the bucket's events to Pub/Sub.
resource "google_project_iam_member" "eventarc_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.eventarc.member
}

resource "google_project_iam_member" "storage_agent_publisher" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.this.email_address}"
}

# Grants take typically 2 minutes, sometimes 7 or more, to take effect (IAM access change
# propagation). The functions' builds, their first revisions and the ingest trigger use them
# the moment they exist: the functions wait for this.
resource "time_sleep" "grants_propagated" {
  create_duration = "120s"

  depends_on = [
    google_storage_bucket_iam_member.this,
    google_project_iam_member.launcher_vertex,
    google_service_account_iam_member.launcher_acts_as_trainer,
    google_project_iam_member.builder,
    google_artifact_registry_repository_iam_member.builder,
    google_project_iam_member.builder_sources,
    google_project_iam_member.eventarc_receiver,
    google_project_iam_member.storage_agent_publisher,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}
