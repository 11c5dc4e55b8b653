output "notification_channels" {
  description = "Ids of the e-mail notification channels."
  value       = local.channels
}

output "alert_policies" {
  description = "Ids of the alert policies: pricing errors, pricing latency, failed training, dead-lettered uploads, drift, live MAPE."
  value = {
    pricing_errors     = google_monitoring_alert_policy.pricing_errors.id
    pricing_latency    = google_monitoring_alert_policy.pricing_latency.id
    training_failed    = google_monitoring_alert_policy.training_failed.id
    ingest_dead_letter = google_monitoring_alert_policy.ingest_dead_letter.id
    drift              = google_monitoring_alert_policy.drift.id
    live_mape          = google_monitoring_alert_policy.live_mape.id
  }
}

output "budget" {
  description = "Resource name of the billing budget."
  value       = google_billing_budget.this.name
}
