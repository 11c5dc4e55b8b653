# The diamonds deployment: data and models buckets, the inventory database, one function (a
# Cloud Run service of the release's image) per entry point of functions/main.py, the Pub/Sub
# path from the data bucket to `ingest`, Vertex AI training, the public front door, and
# monitoring (with the daily drift check of drift.tf).

locals {
  labels = merge(var.labels, { app = "diamonds", deployment = var.name })

  services = toset([
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "billingbudgets.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
    "vpcaccess.googleapis.com",
  ])

  # The longest ingest may handle one event: inside the push subscription's 600 s
  # acknowledgement deadline (events.tf), so a delivery still being handled is not sent again.
  # A delivery of a file holds it (DIAMONDS_INGEST_LEASE_SECONDS) and renews that every quarter
  # of the lease while it works: only a delivery whose instance died lets it run out, and the
  # file is then taken over by the next retry, within a minute.
  ingest_timeout_seconds = 540
  ingest_lease_seconds   = 30

  training_image = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.training.repository_id}/training:${var.training_image_tag}"

  # The release's image by digest (infra/release/README.md builds and pushes it).
  functions_image = data.google_artifact_registry_docker_image.functions.self_link

  # Every plain environment variable a function may receive. Each function below lists
  # the names it needs; tests/infra checks that every name is a setting the code reads.
  environment = {
    DIAMONDS_DATA_ROOT              = "gs://${google_storage_bucket.data.name}"
    DIAMONDS_MODELS_ROOT            = "gs://${google_storage_bucket.models.name}"
    DIAMONDS_READ_REQUIRES_KEY      = tostring(var.read_requires_key)
    DIAMONDS_TRAINING_RUNNER        = "vertex"
    DIAMONDS_GCP_PROJECT            = var.project_id
    DIAMONDS_GCP_REGION             = var.region
    DIAMONDS_TRAINING_IMAGE         = local.training_image
    DIAMONDS_VERTEX_SERVICE_ACCOUNT = google_service_account.trainer.email
    DIAMONDS_VERTEX_STAGING_BUCKET  = "gs://${google_storage_bucket.vertex_staging.name}"
    DIAMONDS_GATE_TOLERANCE         = tostring(var.gate_tolerance)
    DIAMONDS_VERTEX_MACHINE_TYPES   = join(",", [for m in var.training_machine_types : "${m.from_stones}:${m.machine_type}"])
    DIAMONDS_LOG_LEVEL              = var.log_level
    DIAMONDS_INGEST_LEASE_SECONDS   = tostring(local.ingest_lease_seconds)
  }

  # Environment variables whose values come from Secret Manager: name => secret id.
  secrets = {
    DIAMONDS_DATABASE_URL = module.database.app_url_secret_id
    DIAMONDS_API_KEYS     = google_secret_manager_secret.api_keys.secret_id
  }

  common_env    = ["DIAMONDS_GCP_PROJECT", "DIAMONDS_GCP_REGION", "DIAMONDS_LOG_LEVEL"]
  launching_env = ["DIAMONDS_TRAINING_RUNNER", "DIAMONDS_TRAINING_IMAGE", "DIAMONDS_VERTEX_SERVICE_ACCOUNT", "DIAMONDS_VERTEX_STAGING_BUCKET", "DIAMONDS_VERTEX_MACHINE_TYPES", "DIAMONDS_GATE_TOLERANCE"]

  # One function per functions-framework target. The key is the entry point.
  functions = {
    inventory = {
      description  = "Inventory of appraised diamonds: /v1/diamonds..."
      memory       = "512Mi"
      timeout      = 60
      concurrency  = 8
      ingress      = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
      env          = concat(local.common_env, ["DIAMONDS_READ_REQUIRES_KEY"])
      secrets      = ["DIAMONDS_DATABASE_URL", "DIAMONDS_API_KEYS"]
      kind         = "http"
      asynchronous = false
    }
    pricing = {
      description = "Prices a stone with the champion model and explains the price: /v1/price"
      memory      = "1Gi"
      timeout     = 30
      concurrency = var.pricing_concurrency
      ingress     = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
      env         = concat(local.common_env, ["DIAMONDS_MODELS_ROOT", "DIAMONDS_READ_REQUIRES_KEY"])
      secrets     = ["DIAMONDS_DATABASE_URL", "DIAMONDS_API_KEYS"]
      kind        = "http"
      # functions-framework's async (ASGI) mode: one event loop serves its requests, eight
      # threads at most their database and storage work (functions/deployables.py).
      asynchronous = true
    }
    models = {
      description  = "Model versions, promotion, training runs, partners and usage: /v1/models..., /v1/runs/..., /v1/partners..., /v1/usage"
      memory       = "512Mi"
      timeout      = 60
      concurrency  = 8
      ingress      = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
      env          = concat(local.common_env, ["DIAMONDS_MODELS_ROOT", "DIAMONDS_READ_REQUIRES_KEY"])
      secrets      = ["DIAMONDS_DATABASE_URL", "DIAMONDS_API_KEYS"]
      kind         = "http"
      asynchronous = false
    }
    retrain = {
      description  = "Snapshots the inventory and launches a Vertex AI training job: /v1/retrain"
      memory       = "1Gi"
      timeout      = 300
      concurrency  = 1
      ingress      = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
      env          = concat(local.common_env, local.launching_env, ["DIAMONDS_DATA_ROOT", "DIAMONDS_MODELS_ROOT", "DIAMONDS_READ_REQUIRES_KEY"])
      secrets      = ["DIAMONDS_DATABASE_URL", "DIAMONDS_API_KEYS"]
      kind         = "http"
      asynchronous = false
    }
    ingest = {
      description = "Validates a CSV dropped in incoming/, quarantines rejects, upserts the inventory, launches training"
      memory      = "1Gi"
      timeout     = local.ingest_timeout_seconds
      concurrency = 1
      ingress     = "INGRESS_TRAFFIC_INTERNAL_ONLY"
      env         = concat(local.common_env, local.launching_env, ["DIAMONDS_DATA_ROOT", "DIAMONDS_MODELS_ROOT", "DIAMONDS_INGEST_LEASE_SECONDS"])
      secrets     = ["DIAMONDS_DATABASE_URL"]
      # The data bucket's uploads, pushed by the ingest subscription as CloudEvents (events.tf).
      kind         = "cloudevent"
      asynchronous = false
    }
  }

  # The front door's routing table: path => function (entry point).
  routes = {
    "/v1/diamonds"     = "inventory"
    "/v1/diamonds/*"   = "inventory"
    "/v1/price"        = "pricing"
    "/v1/openapi.json" = "pricing"
    "/v1/docs"         = "pricing"
    "/healthz"         = "pricing"
    "/v1/models"       = "models"
    "/v1/models/*"     = "models"
    "/v1/runs"         = "models"
    "/v1/runs/*"       = "models"
    "/v1/ingestions"   = "models"
    "/v1/monitoring"   = "models"
    "/v1/monitoring/*" = "models"
    "/v1/partners"     = "models"
    "/v1/partners/*"   = "models"
    "/v1/usage"        = "models"
    "/v1/retrain"      = "retrain"
  }
}

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "this" {
  for_each = local.services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# An API answers 403 SERVICE_DISABLED for a while after it is enabled ("If you enabled this
# API recently, wait a few minutes for the action to propagate to our systems and retry"):
# everything that calls one waits for this, directly or through its module. A newly added API
# waits again.
resource "time_sleep" "apis_ready" {
  create_duration = "120s"

  triggers = {
    services = join(",", sort(tolist(local.services)))
  }

  depends_on = [google_project_service.this]
}

# Training images are tagged with the git commit they were built from and never re-tagged.
resource "google_artifact_registry_repository" "training" {
  # checkov:skip=CKV_GCP_84:Images hold no data and no secrets (open-source code and libraries); Google-managed encryption at rest suffices and a customer key would add key administration without reducing a risk.
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name}-training"
  description   = "The training image run by Vertex AI custom jobs; tags (git commits) are immutable."
  format        = "DOCKER"
  labels        = local.labels

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"

    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-older-than-180-days"
    action = "DELETE"

    condition {
      older_than = "15552000s"
    }
  }

  depends_on = [time_sleep.apis_ready]
}

# The functions' image of each release, tagged with the git commit whose source archive it was
# built from (infra/release) and never re-tagged.
resource "google_artifact_registry_repository" "functions" {
  # checkov:skip=CKV_GCP_84:Images hold no data and no secrets (open-source code and libraries); Google-managed encryption at rest suffices and a customer key would add key administration without reducing a risk.
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name}-functions"
  description   = "The functions' image of each release; tags (git commits) are immutable."
  format        = "DOCKER"
  labels        = local.labels

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"

    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-older-than-90-days"
    action = "DELETE"

    condition {
      older_than = "7776000s"
    }
  }

  depends_on = [time_sleep.apis_ready]
}

# The image infra/release built from the release's commit: a plan fails here, before anything
# changes, when that commit was never built.
data "google_artifact_registry_docker_image" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = google_artifact_registry_repository.functions.repository_id
  image_name    = "functions:${var.release}"
}

# Partners' keys are added to it outside Terraform: a destroy must not take them along.
resource "google_secret_manager_secret" "api_keys" {
  project             = var.project_id
  secret_id           = "${var.name}-api-keys"
  labels              = local.labels
  deletion_protection = true

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [time_sleep.apis_ready]
}

# The first key, for the team's web app; the team's further keys are added by operators
# (docs/operations.md, "Rotate the team's keys"), which creates newer versions of this secret.
# Partners' keys are in the database, issued by an admin key.
resource "random_password" "first_api_key" {
  length  = 40
  special = false
}

resource "google_secret_manager_secret_version" "first_api_key" {
  secret      = google_secret_manager_secret.api_keys.id
  secret_data = random_password.first_api_key.result

  # Rotation disables this version outside Terraform; do not re-enable it.
  lifecycle {
    ignore_changes = [enabled]
  }
}

module "network" {
  source = "./modules/network"

  project_id = var.project_id
  region     = var.region
  name       = var.name

  depends_on = [time_sleep.apis_ready]
}

module "database" {
  source = "./modules/database"

  project_id        = var.project_id
  region            = var.region
  name              = var.name
  network_id        = module.network.network_id
  tier              = var.database_tier
  high_availability = var.database_high_availability
  disk_size_gb      = var.database_disk_size_gb
  disk_limit_gb     = var.database_disk_limit_gb
  max_connections   = var.database_max_connections
  labels            = local.labels

  depends_on = [module.network]
}

module "function" {
  source   = "./modules/function"
  for_each = local.functions

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name}-${each.key}"
  description           = each.value.description
  service_account_email = google_service_account.function[each.key].email
  entry_point           = each.key
  image                 = local.functions_image
  revision              = var.release
  memory                = each.value.memory
  timeout_seconds       = each.value.timeout
  concurrency           = each.value.concurrency
  asynchronous          = each.value.asynchronous
  min_instances         = var.function_scaling[each.key].min_instances
  max_instances         = var.function_scaling[each.key].max_instances
  ingress               = each.value.ingress
  vpc_connector         = module.network.connector_id
  labels                = local.labels

  environment_variables        = { for name in each.value.env : name => local.environment[name] }
  secret_environment_variables = { for name in each.value.secrets : name => local.secrets[name] }

  # Behind the load balancer the API key authenticates, so the HTTP functions need no invoker
  # grant (and no allUsers member); ingest is invoked by the push subscription's identity only.
  public          = each.value.kind == "http"
  invoker_members = each.value.kind == "http" ? {} : { push = google_service_account.ingest_push.member }

  # Grants in effect; the secret versions the functions read at "latest" exist (the
  # database URL's waits for Cloud SQL, 10-15 minutes).
  depends_on = [
    time_sleep.grants_propagated,
    google_secret_manager_secret_version.first_api_key,
    module.database,
  ]
}

module "front_door" {
  source = "./modules/front_door"

  project_id                = var.project_id
  region                    = var.region
  name                      = var.name
  backends                  = { for key, fn in module.function : key => fn.name if local.functions[key].kind == "http" }
  routes                    = local.routes
  default_backend           = "pricing"
  domain                    = var.api_domain
  rate_limit_per_minute     = var.rate_limit_per_minute
  key_rate_limit_per_minute = var.key_rate_limit_per_minute
  log_sample_rate           = var.load_balancer_log_sample_rate

  depends_on = [time_sleep.apis_ready]
}

module "monitoring" {
  source = "./modules/monitoring"

  project_id               = var.project_id
  project_number           = data.google_project.this.number
  name                     = var.name
  alert_emails             = var.alert_emails
  pricing_service_name     = module.function["pricing"].name
  error_ratio_threshold    = var.pricing_error_ratio_threshold
  latency_threshold_ms     = var.pricing_latency_threshold_ms
  dead_letter_subscription = google_pubsub_subscription.ingest_dead_letter.name
  billing_account_id       = var.billing_account_id
  monthly_budget           = var.monthly_budget

  depends_on = [time_sleep.apis_ready]
}
