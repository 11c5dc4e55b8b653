output "name" {
  description = "Name of the function's Cloud Run service."
  value       = google_cloud_run_v2_service.this.name
}

output "uri" {
  description = "The function's own run.app URL (reachable only from internal sources and the load balancer)."
  value       = google_cloud_run_v2_service.this.uri
}
