# prod: a warm pricing instance, a dedicated-core database with a standby in a second
# zone, a real domain.

provider "google" {
  project = var.project_id
  region  = var.region

  # Bill API quota (the Billing Budget API in particular) to this project, not to the
  # caller's credentials.
  user_project_override = true
  billing_project       = var.project_id
}

# For the one resource not in the google provider 6.50 (the Pub/Sub service agent's identity).
provider "google-beta" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id
}

module "diamonds" {
  source = "../.."

  project_id         = var.project_id
  region             = var.region
  name               = "diamonds-prod"
  billing_account_id = var.billing_account_id
  alert_emails       = var.alert_emails
  api_domain         = var.api_domain
  training_image_tag = var.training_image_tag
  release            = var.release
  monthly_budget     = 400
  log_level          = "INFO"

  database_tier              = "db-custom-1-3840"
  database_high_availability = true
  database_disk_size_gb      = 20
  database_max_connections   = 200

  # Connection budget: 200 connections; the functions may open 4x8 + 10x8 + 2x8 (HTTP, 8
  # concurrent requests each) + 2x1 + 4x1 = 134. Ten pricing instances serve about 500
  # requests a second.
  function_scaling = {
    inventory = { min_instances = 0, max_instances = 4 }
    pricing   = { min_instances = 1, max_instances = 10 }
    models    = { min_instances = 0, max_instances = 2 }
    retrain   = { min_instances = 0, max_instances = 2 }
    ingest    = { min_instances = 0, max_instances = 4 }
  }
}
