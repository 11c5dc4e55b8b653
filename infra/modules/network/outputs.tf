output "network_id" {
  description = "Id of the VPC (projects/P/global/networks/N), the private network of Cloud SQL."
  value       = google_compute_network.this.id
}

output "connector_id" {
  description = "Id of the Serverless VPC Access connector the functions use to reach Cloud SQL."
  value       = google_vpc_access_connector.this.id
}
