variable "project_id" {
  description = "Project that owns the function and its service account."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Name of the function's Cloud Run service."
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
  description = "functions-framework target in main.py that the service runs (FUNCTION_TARGET): inventory, pricing, models, retrain or ingest."
  type        = string

  validation {
    condition     = contains(["inventory", "pricing", "models", "retrain", "ingest"], var.entry_point)
    error_message = "entry_point must be one of the targets of functions/main.py."
  }
}

variable "image" {
  description = "The release's functions image (infra/release/Dockerfile), by digest: it serves every target of main.py."
  type        = string
}

variable "revision" {
  description = "The git commit the image and its source archive were built from; every service and revision is labelled with it."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{7,40}$", var.revision))
    error_message = "revision must be a git commit id (7 to 40 lower-case hex digits)."
  }
}

variable "memory" {
  description = "Memory of one instance, e.g. 512Mi or 1Gi."
  type        = string
}

variable "cpu" {
  description = "vCPUs of one instance; at least 1 for a request concurrency above 1. CPU is allocated only while a request is served."
  type        = string
  default     = "1"
}

variable "timeout_seconds" {
  description = "Request timeout in seconds (at most 3600; a pushed event's at most the subscription's 600 s acknowledgement deadline)."
  type        = number
}

variable "concurrency" {
  description = "Requests one instance serves at the same time."
  type        = number
  default     = 1
}

variable "asynchronous" {
  description = "Start the target on functions-framework's async (ASGI) mode (FUNCTION_USE_ASGI): an event loop serves the requests, where the synchronous mode gives each a thread (THREADS = concurrency)."
  type        = bool
  default     = false
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
  description = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER (reachable only through the load balancer) or INGRESS_TRAFFIC_INTERNAL_ONLY (pushed events)."
  type        = string

  validation {
    condition     = contains(["INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", "INGRESS_TRAFFIC_INTERNAL_ONLY"], var.ingress)
    error_message = "Functions are never exposed directly: use INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER or INGRESS_TRAFFIC_INTERNAL_ONLY."
  }
}

variable "public" {
  description = "Whether anyone who reaches the service may invoke it (the invoker IAM check off): the functions behind the load balancer, where the API key is the authentication. No allUsers grant is made either way."
  type        = bool
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
  description = "Principals granted roles/run.invoker on a function that is not public, keyed by a static label (the values may be unknown until apply): the identity that pushes its events."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels of the function."
  type        = map(string)
  default     = {}
}
