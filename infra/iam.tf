# Identities and what each may do. Every function has its own service account
# (modules/function grants it the secrets it reads; database_upgrade.tf has the release's
# upgrade job's account and grants); this file grants bucket access, by prefix where a function
# writes only part of a bucket, the Vertex AI rights of the two functions that launch training,
# and the accounts of the training job, the build and the push of upload events. No account holds a primitive role (owner, editor, viewer) or a
# predefined project-wide role beyond writing logs.

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
  description  = "Runs python -m training: reads data, writes quarantine/, snapshots/validated/, models/, champion.json and runs/."

  depends_on = [time_sleep.apis_ready]
}

resource "google_service_account" "builder" {
  project      = var.project_id
  account_id   = "${var.name}-builder"
  display_name = "Cloud Build for the functions"
  description  = "Builds the images of a release: the functions' from its source archive, and the training image."

  depends_on = [time_sleep.apis_ready]
}

resource "google_service_account" "ingest_push" {
  project      = var.project_id
  account_id   = "${var.name}-ingest-push"
  display_name = "Push of uploads to ingest"
  description  = "Identity of the ingest subscription's push requests: may invoke the ingest function only."

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

    models_models_read  = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectViewer", member = local.fn["models"], prefixes = null }
    models_models_write = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectUser", member = local.fn["models"], prefixes = concat(["champion.json"], local.run_records) }

    retrain_snapshots_write = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectUser", member = local.fn["retrain"], prefixes = ["snapshots/"] }
    retrain_models_read     = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectViewer", member = local.fn["retrain"], prefixes = null }
    retrain_runs_write      = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectUser", member = local.fn["retrain"], prefixes = local.run_records }

    ingest_data_read   = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectViewer", member = local.fn["ingest"], prefixes = null }
    ingest_data_write  = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectUser", member = local.fn["ingest"], prefixes = ["quarantine/", "snapshots/"] }
    ingest_models_read = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectViewer", member = local.fn["ingest"], prefixes = null }
    ingest_runs_write  = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectUser", member = local.fn["ingest"], prefixes = local.run_records }

    trainer_data_read     = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectViewer", member = google_service_account.trainer.member, prefixes = null }
    trainer_data_write    = { bucket = google_storage_bucket.data.name, role = "roles/storage.objectUser", member = google_service_account.trainer.member, prefixes = ["quarantine/", "snapshots/validated/"] }
    trainer_models_write  = { bucket = google_storage_bucket.models.name, role = "roles/storage.objectUser", member = google_service_account.trainer.member, prefixes = null }
    trainer_staging_write = { bucket = google_storage_bucket.vertex_staging.name, role = "roles/storage.objectUser", member = google_service_account.trainer.member, prefixes = null }

    builder_sources_read = { bucket = google_storage_bucket.function_source.name, role = "roles/storage.objectViewer", member = google_service_account.builder.member, prefixes = null }
  }

  # The functions that launch training create, follow and cancel Vertex AI custom jobs (no
  # resource-level IAM exists for jobs, so the role is the project's, and holds nothing else)
  # and act as the training account only. The job, not its launcher, writes to the staging
  # bucket.
  launchers = toset(["retrain", "ingest"])
  launcher_permissions = [
    "aiplatform.customJobs.cancel",
    "aiplatform.customJobs.create",
    "aiplatform.customJobs.get",
  ]
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

resource "google_project_iam_custom_role" "training_launcher" {
  project     = var.project_id
  role_id     = replace("${var.name}_training_launcher", "-", "_")
  title       = "${var.name} training launcher"
  description = "Create, read and cancel Vertex AI custom jobs (run as the training account, which only the launchers may act as)."
  permissions = local.launcher_permissions

  depends_on = [time_sleep.apis_ready]
}

resource "google_project_iam_member" "launcher_vertex" {
  for_each = local.launchers

  project = var.project_id
  role    = google_project_iam_custom_role.training_launcher.name
  member  = local.fn[each.key]
}

resource "google_service_account_iam_member" "launcher_acts_as_trainer" {
  for_each = local.launchers

  service_account_id = google_service_account.trainer.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.fn[each.key]
}

# Cloud Build, for the images of a release (infra/release): the roles Google lists for a custom
# build service account, each on what it needs only. Logs; pushes to both image repositories;
# reads the release archives and build sources in the function-source bucket (bucket_grants).
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

# Uploads (events.tf): the Cloud Storage service agent publishes the data bucket's
# notifications to their topic only; the Pub/Sub service agent signs the push requests as the
# push identity (which, in modules/function, may invoke ingest only).
resource "google_pubsub_topic_iam_member" "storage_agent_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.uploads.name
  role    = "roles/pubsub.publisher"
  member  = data.google_storage_project_service_account.this.member
}

resource "google_service_account_iam_member" "pubsub_agent_signs_for_push" {
  service_account_id = google_service_account.ingest_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Grants take typically 2 minutes, sometimes 7 or more, to take effect (IAM access change
# propagation). The functions' first revisions and the uploads' notification use them the
# moment they exist: they wait for this.
resource "time_sleep" "grants_propagated" {
  create_duration = "120s"

  depends_on = [
    google_storage_bucket_iam_member.this,
    google_project_iam_member.launcher_vertex,
    google_service_account_iam_member.launcher_acts_as_trainer,
    google_project_iam_member.builder,
    google_artifact_registry_repository_iam_member.builder,
    google_pubsub_topic_iam_member.storage_agent_publisher,
    google_service_account_iam_member.pubsub_agent_signs_for_push,
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_secret_manager_secret_iam_member.database_upgrade,
  ]
}
