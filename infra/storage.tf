# Buckets. All are regional (next to the functions and the training job), private
# (uniform bucket-level access, public access prevention enforced) and versioned, so an
# overwritten or deleted object can be restored. Access is recorded by Cloud Audit Logs
# (audit.tf) rather than by legacy usage-log buckets.

locals {
  bucket_prefix = "${var.project_id}-${var.name}"
}

# DATA root: incoming/<name>.csv (each upload triggers ingest), quarantine/ (rejected rows
# with reasons) and snapshots/ (the immutable inputs of training runs: <ts>.json manifests
# naming parts/<signature>.csv, and validated/, each part's validation).
resource "google_storage_bucket" "data" {
  # checkov:skip=CKV_GCP_62:Access is logged by Cloud Audit Logs (DATA_WRITE for storage, audit.tf); legacy usage logs would duplicate it in another bucket.
  project                     = var.project_id
  name                        = "${local.bucket_prefix}-data"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # A manifest is read once, by the run it was made for; a part once, to validate it, and its
  # validation by every run while the part is unchanged, then never: cheaper storage after 30
  # days (a validation still in use is read at Nearline's retrieval price, a few MB a run).
  lifecycle_rule {
    condition {
      age            = 30
      matches_prefix = ["snapshots/"]
      with_state     = "LIVE"
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }

  # Quarantine reports are for the data owner to act on; a year is plenty.
  lifecycle_rule {
    condition {
      age            = 365
      matches_prefix = ["quarantine/"]
      with_state     = "LIVE"
    }
    action {
      type = "Delete"
    }
  }

  # Overwritten or deleted objects can be restored for 90 days.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 90
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [time_sleep.apis_ready]
}

# MODELS root: models/<version>/ (artifacts + metadata.json), champion.json (replaced by
# compare-and-swap on its generation) and runs/<run_id>.json. Every earlier champion.json
# stays as a noncurrent version: the promotion history, and one way to roll back.
resource "google_storage_bucket" "models" {
  # checkov:skip=CKV_GCP_62:Access is logged by Cloud Audit Logs (DATA_WRITE for storage, audit.tf); legacy usage logs would duplicate it in another bucket.
  project                     = var.project_id
  name                        = "${local.bucket_prefix}-models"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # Keep the last 100 versions of every object (champion.json's promotion history) ...
  lifecycle_rule {
    condition {
      num_newer_versions = 100
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # ... and none older than two years.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 730
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [time_sleep.apis_ready]
}

# Scratch space of Vertex AI custom jobs (base output directory); nothing here is kept.
resource "google_storage_bucket" "vertex_staging" {
  # checkov:skip=CKV_GCP_62:Access is logged by Cloud Audit Logs (DATA_WRITE for storage, audit.tf); legacy usage logs would duplicate it in another bucket.
  project                     = var.project_id
  name                        = "${local.bucket_prefix}-vertex-staging"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 14
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [time_sleep.apis_ready]
}

# Source archives of the releases, function-source/<git commit>.zip (infra/release), and
# operators' Cloud Build sources. An image, once built, no longer needs its archive, and
# release.sh makes the same archive again from the commit: old ones can expire.
resource "google_storage_bucket" "function_source" {
  # checkov:skip=CKV_GCP_62:Access is logged by Cloud Audit Logs (DATA_WRITE for storage, audit.tf); legacy usage logs would duplicate it in another bucket.
  project                     = var.project_id
  name                        = "${local.bucket_prefix}-function-source"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 180
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [time_sleep.apis_ready]
}
