output "api_url" {
  description = "Base URL of the API."
  value       = module.diamonds.api_url
}

output "api_ip_address" {
  description = "Public IP of the API (DNS A record target)."
  value       = module.diamonds.api_ip_address
}

output "data_bucket" {
  description = "Drop CSV files into gs://<data_bucket>/incoming/."
  value       = module.diamonds.data_bucket
}

output "models_bucket" {
  description = "Bucket of models/, champion.json and runs/."
  value       = module.diamonds.models_bucket
}

output "training_image_repository" {
  description = "Where to push the training image."
  value       = module.diamonds.training_image_repository
}

output "functions_image_repository" {
  description = "Where infra/release pushes the functions' image."
  value       = module.diamonds.functions_image_repository
}

output "builder_service_account" {
  description = "Build account for gcloud builds submit --service-account."
  value       = module.diamonds.builder_service_account
}

output "function_source_bucket" {
  description = "Staging bucket for gcloud builds submit --gcs-source-staging-dir."
  value       = module.diamonds.function_source_bucket
}

output "functions" {
  description = "Entry point => deployed function name."
  value       = module.diamonds.functions
}

output "database_instance" {
  description = "Cloud SQL instance name."
  value       = module.diamonds.database_instance
}

output "database_connection_name" {
  description = "Cloud SQL connection name for the Auth Proxy."
  value       = module.diamonds.database_connection_name
}

output "api_keys_secret" {
  description = "Secret holding the API keys."
  value       = module.diamonds.api_keys_secret
}

output "ingest_dead_letter_subscription" {
  description = "Ingest events that failed every delivery attempt, kept 7 days."
  value       = module.diamonds.ingest_dead_letter_subscription
}
