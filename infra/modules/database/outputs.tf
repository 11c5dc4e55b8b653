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

output "database_url_secret_id" {
  description = "Secret Manager secret id holding the SQLAlchemy URL (DIAMONDS_DATABASE_URL)."
  value       = google_secret_manager_secret.database_url.secret_id
}

output "database_url_secret_version" {
  description = "Resource name of the secret's current version; a password change creates a new one."
  value       = google_secret_manager_secret_version.database_url.name
}
