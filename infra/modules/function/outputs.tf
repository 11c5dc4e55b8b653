output "name" {
  description = "Name of the function (and of its Cloud Run service)."
  value       = google_cloudfunctions2_function.this.name
}

output "uri" {
  description = "The function's own run.app URL (reachable only from internal sources and the load balancer)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "event_trigger" {
  description = "Resource name of the Eventarc trigger Cloud Functions made for the function (null for HTTP functions)."
  value       = one(google_cloudfunctions2_function.this.event_trigger[*].trigger)
}
