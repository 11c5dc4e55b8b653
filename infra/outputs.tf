output "api_url" {
  description = "Base URL of the public API (serves /v1/..., /healthz)."
  value       = module.front_door.url
}

output "api_ip_address" {
  description = "Public IPv4 address of the API; api_domain's DNS A record must point here."
  value       = module.front_door.ip_address
}

output "data_bucket" {
  description = "DATA root bucket: drop CSV files into gs://<bucket>/incoming/ to ingest them."
  value       = google_storage_bucket.data.name
}

output "models_bucket" {
  description = "MODELS root bucket: models/<version>/, champion.json, runs/."
  value       = google_storage_bucket.models.name
}

output "vertex_staging_bucket" {
  description = "Staging bucket of the Vertex AI training jobs."
  value       = google_storage_bucket.vertex_staging.name
}

output "training_image_repository" {
  description = "Artifact Registry path to push the training image to (append /training:<git commit>)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.training.repository_id}"
}

output "training_image" {
  description = "The training image the functions launch (DIAMONDS_TRAINING_IMAGE)."
  value       = local.training_image
}

output "functions_image_repository" {
  description = "Artifact Registry path of the functions' images (append /functions:<git commit>; infra/release pushes there)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.functions.repository_id}"
}

output "functions_image" {
  description = "The image every function runs, by digest: the release's (var.release)."
  value       = local.functions_image
}

output "builder_service_account" {
  description = "Resource name (projects/P/serviceAccounts/EMAIL) of the build account, for gcloud builds submit --service-account."
  value       = google_service_account.builder.id
}

output "function_source_bucket" {
  description = "Bucket of the releases' source archives (function-source/<git commit>.zip) and of operators' Cloud Build sources."
  value       = google_storage_bucket.function_source.name
}

output "functions" {
  description = "Deployed functions: entry point => Cloud Run service name."
  value       = { for key, fn in module.function : key => fn.name }
}

output "service_accounts" {
  description = "Service account e-mails: one per function, the training job, the build, the push of upload events and the database upgrade."
  value = merge(
    { for key, sa in google_service_account.function : "function_${key}" => sa.email },
    {
      trainer          = google_service_account.trainer.email
      builder          = google_service_account.builder.email
      ingest_push      = google_service_account.ingest_push.email
      database_upgrade = google_service_account.database_upgrade.email
    },
  )
}

output "database_instance" {
  description = "Name of the Cloud SQL instance."
  value       = module.database.instance_name
}

output "database_connection_name" {
  description = "PROJECT:REGION:INSTANCE of Cloud SQL, for the Cloud SQL Auth Proxy during operations."
  value       = module.database.connection_name
}

output "database_app_url_secret" {
  description = "Secret Manager secret holding the functions' DIAMONDS_DATABASE_URL: the application role's (rows only)."
  value       = module.database.app_url_secret_id
}

output "database_owner_url_secret" {
  description = "Secret Manager secret holding the tables' owner's URL, which only the database upgrade job reads."
  value       = module.database.owner_url_secret_id
}

output "database_upgrade_job" {
  description = "Cloud Run job of the release's database upgrade (infra/release/release.sh runs it before the functions' new revisions)."
  value       = google_cloud_run_v2_job.database_upgrade.name
}

output "api_keys_secret" {
  description = "Secret Manager secret holding DIAMONDS_API_KEYS (comma-separated bearer keys)."
  value       = google_secret_manager_secret.api_keys.secret_id
}

output "ingest_dead_letter_subscription" {
  description = "Subscription keeping, for 7 days, the ingest events that failed every delivery attempt."
  value       = google_pubsub_subscription.ingest_dead_letter.name
}
