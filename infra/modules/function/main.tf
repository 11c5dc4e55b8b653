# One function: a Cloud Run service running the release's functions image with one
# functions-framework target, as its own service account. The module lets that account read
# exactly the secrets the function is configured with. A public function (behind the load
# balancer) turns the invoker IAM check off rather than granting allUsers, which
# domain-restricted sharing refuses; any other function is invoked only by the principals
# given.

resource "google_secret_manager_secret_iam_member" "this" {
  for_each = var.secret_environment_variables

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.service_account_email}"
}

# IAM grants take typically 2 minutes, sometimes 7 or more, to take effect; a change of the
# secrets waits again.
resource "time_sleep" "secret_grants_propagated" {
  create_duration = "120s"

  triggers = {
    secrets = jsonencode(var.secret_environment_variables)
  }

  depends_on = [google_secret_manager_secret_iam_member.this]
}

resource "google_cloud_run_v2_service" "this" {
  project              = var.project_id
  location             = var.region
  name                 = var.name
  description          = var.description
  labels               = merge(var.labels, { revision = var.revision })
  ingress              = var.ingress
  invoker_iam_disabled = var.public
  # Stateless: a release replaces it, a destroy removes it.
  deletion_protection = false

  template {
    service_account                  = var.service_account_email
    timeout                          = "${var.timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency
    labels                           = merge(var.labels, { revision = var.revision })

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    vpc_access {
      connector = var.vpc_connector
      egress    = "PRIVATE_RANGES_ONLY"
    }

    containers {
      image = var.image

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      # The image serves any target of main.py (functions-framework reads these); this
      # service runs its own, on the framework's async mode or on its synchronous one, with a
      # thread for each request it may serve at once (THREADS, which the async mode ignores).
      env {
        name  = "FUNCTION_TARGET"
        value = var.entry_point
      }

      env {
        name  = "FUNCTION_USE_ASGI"
        value = tostring(var.asynchronous)
      }

      env {
        name  = "THREADS"
        value = tostring(var.concurrency)
      }

      dynamic "env" {
        for_each = var.environment_variables

        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_environment_variables

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

  # A revision that cannot read its secrets fails to start: grant first, deploy second.
  depends_on = [time_sleep.secret_grants_propagated]
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.invoker_members

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
