# The bucket that holds the Terraform state of one environment, in that environment's own
# project: applied once per environment, with local state in a workspace named after it,
# before anything else (infra/README.md). The state contains secrets (the database password
# inside DIAMONDS_DATABASE_URL, the first API key), so prod's state never sits in the dev
# project, and only the people and pipelines that run Terraform may read it.

resource "google_storage_bucket" "state" {
  # checkov:skip=CKV_GCP_62:Reads and writes of the state are recorded by Cloud Audit Logs of the project; a usage-log bucket would add nothing.
  project                     = var.project_id
  name                        = var.bucket_name
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # Every earlier state stays restorable: keep 50 versions of each state file, none older
  # than a year.
  lifecycle_rule {
    condition {
      num_newer_versions = 50
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 365
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle {
    prevent_destroy = true
  }
}
