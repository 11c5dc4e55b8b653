variable "project_id" {
  description = "Project that owns the load balancer."
  type        = string
}

variable "region" {
  description = "Region of the functions behind the serverless network endpoint groups."
  type        = string
}

variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "backends" {
  description = "Backends of the load balancer: a key (used in routes) => the name of a function's Cloud Run service in region."
  type        = map(string)
}

variable "routes" {
  description = "URL path pattern (exact, or ending in /*) => backend key. Paths not listed go to default_backend."
  type        = map(string)
}

variable "default_backend" {
  description = "Backend key that answers paths no route matches (it returns the API's 404 problem document)."
  type        = string
}

variable "domain" {
  description = "Host name of the API for the Google-managed certificate; null uses <ip>.sslip.io."
  type        = string
  default     = null
}

variable "log_sample_rate" {
  description = "Share of requests logged by the backend services (0-1)."
  type        = number
}

variable "key_rate_limit_per_minute" {
  description = "Requests per minute allowed per API key (Authorization header) before Cloud Armor answers 429."
  type        = number
}

variable "rate_limit_per_minute" {
  description = "Requests per minute allowed per client IP before Cloud Armor answers 429."
  type        = number
}
