output "bucket" {
  description = "Name of the state bucket: pass it to terraform init -backend-config=\"bucket=...\" in each environment."
  value       = google_storage_bucket.state.name
}
