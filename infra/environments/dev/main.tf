# dev: everything scales to zero, a shared-core database without standby, a small budget.

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
  name               = "diamonds-dev"
  billing_account_id = var.billing_account_id
  alert_emails       = var.alert_emails
  api_domain         = var.api_domain
  training_image_tag = var.training_image_tag
  release            = var.release
  monthly_budget     = 100
  log_level          = "DEBUG"

  database_tier              = "db-g1-small"
  database_high_availability = false
  database_disk_size_gb      = 10

  # Connection budget: db-g1-small accepts 50 connections (3 reserved); the functions may
  # open 1x8 + 2x8 + 1x8 (HTTP, 8 concurrent requests each) + 1x1 + 2x1 = 35.
  function_scaling = {
    inventory = { min_instances = 0, max_instances = 1 }
    pricing   = { min_instances = 0, max_instances = 2 }
    models    = { min_instances = 0, max_instances = 1 }
    retrain   = { min_instances = 0, max_instances = 1 }
    ingest    = { min_instances = 0, max_instances = 2 }
  }
}
