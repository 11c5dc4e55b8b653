variable "project_id" {
  description = "Project that owns the function and its service account."
  type        = string
}

variable "region" {
  description = "Region of the function (and of its event trigger)."
  type        = string
}

variable "name" {
  description = "Name of the function and of the Cloud Run service behind it."
  type        = string
}

variable "description" {
  description = "What the function serves, shown in the console."
  type        = string
}

variable "service_account_email" {
  description = "Runtime service account of this function alone (the caller grants it bucket and Vertex AI access before the function starts)."
  type        = string
}

variable "entry_point" {
  description = "functions-framework target in main.py: inventory, pricing, models, retrain or ingest."
  type        = string

  validation {
    condition     = contains(["inventory", "pricing", "models", "retrain", "ingest"], var.entry_point)
    error_message = "entry_point must be one of the targets of functions/main.py."
  }
}

variable "runtime" {
  description = "Cloud Functions runtime."
  type        = string
  default     = "python311"
}

variable "source_bucket" {
  description = "Bucket holding the source archive."
  type        = string
}

variable "source_object" {
  description = "Object name of the source archive (content-addressed, so a change redeploys)."
  type        = string
}

variable "docker_repository" {
  description = "Artifact Registry repository (projects/P/locations/R/repositories/N) that receives the built function image."
  type        = string
}

variable "build_service_account" {
  description = "Fully qualified id (projects/P/serviceAccounts/EMAIL) of the service account Cloud Build uses to build the function."
  type        = string
}

variable "memory" {
  description = "Memory of one instance, e.g. 512Mi or 1Gi."
  type        = string
}

variable "cpu" {
  description = "vCPUs of one instance; at least 1 for a request concurrency above 1."
  type        = string
  default     = "1"
}

variable "timeout_seconds" {
  description = "Request timeout (HTTP functions at most 3600 s, event functions at most 540 s)."
  type        = number
}

variable "concurrency" {
  description = "Requests one instance serves at the same time."
  type        = number
  default     = 1
}

variable "min_instances" {
  description = "Instances kept warm (billed while idle) to avoid cold starts."
  type        = number
}

variable "max_instances" {
  description = "Upper bound on instances: caps cost and database connections."
  type        = number
}

variable "ingress" {
  description = "ALLOW_INTERNAL_AND_GCLB (reachable only through the load balancer) or ALLOW_INTERNAL_ONLY (event-driven)."
  type        = string

  validation {
    condition     = contains(["ALLOW_INTERNAL_AND_GCLB", "ALLOW_INTERNAL_ONLY"], var.ingress)
    error_message = "Functions are never exposed directly: use ALLOW_INTERNAL_AND_GCLB or ALLOW_INTERNAL_ONLY."
  }
}

variable "vpc_connector" {
  description = "Id of the Serverless VPC Access connector used to reach Cloud SQL's private IP."
  type        = string
}

variable "environment_variables" {
  description = "Plain environment variables (names DIAMONDS_*)."
  type        = map(string)
}

variable "secret_environment_variables" {
  description = "Environment variables read from Secret Manager at instance start: variable name => secret id (latest version)."
  type        = map(string)
}

variable "invoker_members" {
  description = "Principals granted roles/run.invoker on the function's service, keyed by a static label (the values may be unknown until apply): allUsers behind the load balancer, or the Eventarc trigger's service account."
  type        = map(string)
}

variable "event_trigger" {
  description = "Event trigger of a CloudEvent function (null for HTTP): event type, exact-match filters, the identity Eventarc uses to call the function, and whether failed deliveries are retried."
  type = object({
    event_type            = string
    filters               = map(string)
    service_account_email = string
    retry                 = bool
  })
  default = null
}

variable "labels" {
  description = "Labels of the function."
  type        = map(string)
  default     = {}
}
