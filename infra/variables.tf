variable "project_id" {
  description = "The GCP project that hosts the deployment (one project per environment)."
  type        = string
}

variable "region" {
  description = "Region for every regional resource: buckets, functions, Cloud SQL, Vertex AI jobs, Artifact Registry."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Prefix of every resource name, e.g. diamonds-dev. Short, because service account ids are limited to 30 characters."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,13}$", var.name))
    error_message = "name must be 3-14 characters: lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels added to every resource that accepts them."
  type        = map(string)
  default     = {}
}

variable "billing_account_id" {
  description = "Billing account paying for the project (XXXXXX-XXXXXX-XXXXXX); the budget alert is created on it."
  type        = string
}

variable "monthly_budget" {
  description = "Monthly budget in the billing account's currency (the Budget API accepts no other); e-mails go out at 50%, 90% and 100% of actual spend and at 100% of forecast spend."
  type        = number
  default     = 150
}

variable "alert_emails" {
  description = "E-mail addresses that receive monitoring alerts and budget notifications."
  type        = list(string)

  validation {
    condition     = length(var.alert_emails) > 0 && length(var.alert_emails) <= 5
    error_message = "Give one to five e-mail addresses: the budget notifies at most five channels (Budget API)."
  }
}

variable "api_domain" {
  description = "Public host name of the API, e.g. api.example.com (its DNS A record must point at the api_ip_address output). Null uses <ip>.sslip.io, which needs no DNS setup (for dev)."
  type        = string
  default     = null
}

variable "release" {
  description = "The git commit being released: infra/release built the functions' image functions:<commit> from its source archive; every function runs it and is labelled with it."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{7,40}$", var.release))
    error_message = "release must be a git commit id (7 to 40 lower-case hex digits), as infra/release tags the image."
  }
}

variable "training_image_tag" {
  description = "Tag of the training image in Artifact Registry (the git commit it was built from); the functions launch Vertex AI jobs with this image."
  type        = string
}

variable "read_requires_key" {
  description = "Whether read endpoints (GET, and POST /v1/price) also require an API key; writes always do."
  type        = bool
  default     = true
}

variable "gate_tolerance" {
  description = "Relative error increase a candidate model may show against the champion and still be promoted (0.02 = 2%)."
  type        = number
  default     = 0.02
}

variable "training_machine_types" {
  description = "The Vertex AI training job's machine by the size of the snapshot it trains on: each entry's machine type serves from its from_stones on (the first from 0). The default keeps a run's peak memory under a quarter of the machine's (docs/architecture.md, \"Training as the inventory grows\")."
  type = list(object({
    from_stones  = number
    machine_type = string
  }))
  default = [
    { from_stones = 0, machine_type = "n1-standard-4" },
    { from_stones = 5000000, machine_type = "n1-highmem-8" },
    { from_stones = 20000000, machine_type = "n1-highmem-16" },
  ]

  validation {
    condition = length(var.training_machine_types) > 0 && var.training_machine_types[0].from_stones == 0 && alltrue([
      for i in range(1, length(var.training_machine_types)) :
      var.training_machine_types[i].from_stones > var.training_machine_types[i - 1].from_stones
    ])
    error_message = "training_machine_types must start at from_stones = 0 and grow from one entry to the next."
  }
}

variable "log_level" {
  description = "Log level of the functions (DEBUG, INFO, WARNING, ERROR). The training job reads no log level: it prints its result or its error (stdout, stderr)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "function_scaling" {
  description = "Minimum and maximum instances per function (keys: inventory, pricing, models, retrain, ingest). Connection budget: the sum of max instances x the connections one instance may hold (8 for inventory, pricing, models; 1 for retrain, ingest) must stay under the database's max_connections. Pricing's 8 are the threads of its database work, whatever its request concurrency."
  type = map(object({
    min_instances = number
    max_instances = number
  }))
  default = {
    inventory = { min_instances = 0, max_instances = 1 }
    pricing   = { min_instances = 0, max_instances = 2 }
    models    = { min_instances = 0, max_instances = 1 }
    retrain   = { min_instances = 0, max_instances = 1 }
    ingest    = { min_instances = 0, max_instances = 2 }
  }

  validation {
    condition     = length(setsubtract(["inventory", "pricing", "models", "retrain", "ingest"], keys(var.function_scaling))) == 0
    error_message = "function_scaling needs an entry for each of inventory, pricing, models, retrain and ingest."
  }
}

variable "pricing_concurrency" {
  description = "Requests one pricing instance (1 vCPU, functions-framework's async mode) serves at once: beyond what its CPU prices without queueing, more only waits; measured with benchmarks/latency.py (docs/architecture.md). Its database connections stay 8 whatever this is."
  type        = number
  default     = 8

  validation {
    condition     = var.pricing_concurrency >= 1 && var.pricing_concurrency <= 1000
    error_message = "pricing_concurrency must be between 1 and 1000 (Cloud Run's limit)."
  }
}

variable "database_tier" {
  description = "Cloud SQL machine tier: a shared-core tier such as db-g1-small (dev: 50 connections, no SLA) or a dedicated-core tier such as db-custom-1-3840 (prod)."
  type        = string
  default     = "db-g1-small"
}

variable "database_max_connections" {
  description = "Cloud SQL max_connections flag; null keeps the tier's default. Size it with the connection budget of function_scaling."
  type        = number
  default     = null
}

variable "database_high_availability" {
  description = "Run Cloud SQL as a regional (primary + standby in another zone) instance; doubles its compute and storage price."
  type        = bool
  default     = false
}

variable "database_disk_size_gb" {
  description = "Initial SSD size of the Cloud SQL instance in GB; it grows automatically, up to database_disk_limit_gb."
  type        = number
  default     = 10
}

variable "database_disk_limit_gb" {
  description = "The most the Cloud SQL disk may grow to automatically, in GB (a disk never shrinks: a runaway table would otherwise be paid for ever after)."
  type        = number
  default     = 100
}

variable "load_balancer_log_sample_rate" {
  description = "Share of requests the load balancer logs (0-1). Cloud Run logs every request that fails; at partner traffic (10 M calls a month) full logging would add some 15 GB a month."
  type        = number
  default     = 0.1

  validation {
    condition     = var.load_balancer_log_sample_rate >= 0 && var.load_balancer_log_sample_rate <= 1
    error_message = "load_balancer_log_sample_rate is a share between 0 and 1."
  }
}

variable "key_rate_limit_per_minute" {
  description = "Requests per minute one API key may send through the front door before Cloud Armor answers 429 (five times that over 5 minutes bans the key for 10 minutes). The largest partner plan's requests a minute, or more: each partner's own limit is held by the functions."
  type        = number
  default     = 1200
}

variable "rate_limit_per_minute" {
  description = "Requests per minute one client IP may send through the front door before Cloud Armor answers 429."
  type        = number
  default     = 600
}

variable "pricing_latency_threshold_ms" {
  description = "p95 latency of the pricing function above which an alert fires (sustained for 5 minutes)."
  type        = number
  default     = 1500
}

variable "pricing_error_ratio_threshold" {
  description = "Share of pricing requests answered with a 5xx above which an alert fires (sustained for 5 minutes)."
  type        = number
  default     = 0.02
}
