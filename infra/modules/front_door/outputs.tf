output "ip_address" {
  description = "The API's public IPv4 address; point the domain's A record here."
  value       = google_compute_global_address.this.address
}

output "url" {
  description = "Base URL of the API (the certificate turns ACTIVE 15-60 minutes after DNS resolves)."
  value       = "https://${local.domain}"
}

output "security_policy" {
  description = "Name of the Cloud Armor policy (to add rules or read its logs)."
  value       = google_compute_security_policy.this.name
}
