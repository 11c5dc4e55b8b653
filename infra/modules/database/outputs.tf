output "instance_name" {
  description = "Name of the Cloud SQL instance (for gcloud sql commands)."
  value       = google_sql_database_instance.this.name
}

output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, for the Cloud SQL Auth Proxy during operations."
  value       = google_sql_database_instance.this.connection_name
}

output "private_ip_address" {
  description = "The instance's only address, inside the VPC."
  value       = google_sql_database_instance.this.private_ip_address
}

output "owner_url_secret_id" {
  description = "Secret Manager secret id holding the owner's SQLAlchemy URL: for the release's upgrade only."
  value       = google_secret_manager_secret.database_url.secret_id
}

output "app_url_secret_id" {
  description = "Secret Manager secret id holding the application role's SQLAlchemy URL: the functions' DIAMONDS_DATABASE_URL."
  value       = google_secret_manager_secret.app_url.secret_id
}
