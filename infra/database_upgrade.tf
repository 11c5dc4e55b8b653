# The release's database step: a Cloud Run job that runs `python -m functions.database upgrade`
# in the release's image, connected as the tables' owner. It brings the schema to the release's
# and gives the application role (the functions' database user) its rights on rows, nothing
# more. infra/release/release.sh sets the job's image to the release's and runs it, before the
# apply that gives the functions their new revisions. Its account is the only reader of the
# owner's URL.

resource "google_service_account" "database_upgrade" {
  project      = var.project_id
  account_id   = "${var.name}-db-upgrade"
  display_name = "Database upgrade of a release"
  description  = "Runs the release's schema migrations as the tables' owner and grants the application role its rights."

  depends_on = [time_sleep.apis_ready]
}

locals {
  # The job's environment: variable => secret id. The application role's URL carries the
  # role's name and password, which the upgrade sets.
  database_upgrade_secrets = {
    DIAMONDS_DATABASE_URL     = module.database.owner_url_secret_id
    DIAMONDS_DATABASE_APP_URL = module.database.app_url_secret_id
  }
}

resource "google_secret_manager_secret_iam_member" "database_upgrade" {
  for_each = local.database_upgrade_secrets

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.database_upgrade.member
}

resource "google_cloud_run_v2_job" "database_upgrade" {
  project  = var.project_id
  location = var.region
  name     = "${var.name}-db-upgrade"
  labels   = merge(local.labels, { revision = var.release })
  # Stateless: a release updates it, a destroy removes it.
  deletion_protection = false

  template {
    labels      = merge(local.labels, { revision = var.release })
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.database_upgrade.email
      timeout         = "900s"
      # A migration that failed fails again: the release stops and says why (its logs).
      max_retries = 0

      vpc_access {
        connector = module.network.connector_id
        egress    = "PRIVATE_RANGES_ONLY"
      }

      containers {
        image   = local.functions_image
        command = ["python", "-m", "functions.database", "upgrade"]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        dynamic "env" {
          for_each = local.database_upgrade_secrets

          content {
            name = env.key

            value_source {
              secret_key_ref {
                secret  = env.value
                version = "latest"
              }
            }
          }
        }
      }
    }
  }

  # Its secrets have versions and it may read them before anyone runs it.
  depends_on = [time_sleep.grants_propagated, module.database]
}
