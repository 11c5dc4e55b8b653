# Data Access audit logs: who wrote which object (the buckets' access record) and who
# read which secret. Reads of objects are not logged: the pricing function checks
# champion.json often and those entries would cost more than they tell.

resource "google_project_iam_audit_config" "storage" {
  project = var.project_id
  service = "storage.googleapis.com"

  audit_log_config {
    log_type = "ADMIN_READ"
  }

  audit_log_config {
    log_type = "DATA_WRITE"
  }

  depends_on = [time_sleep.apis_ready]
}

resource "google_project_iam_audit_config" "secretmanager" {
  project = var.project_id
  service = "secretmanager.googleapis.com"

  audit_log_config {
    log_type = "ADMIN_READ"
  }

  audit_log_config {
    log_type = "DATA_READ"
  }

  audit_log_config {
    log_type = "DATA_WRITE"
  }

  depends_on = [time_sleep.apis_ready]
}

# Request logs: Cloud Run logs every request of every function; at partner traffic (10 M
# calls a month) that is some 10 GB of entries saying "200". Every request that failed (4xx,
# 5xx) is kept, and one in ten of the others; the request metrics behind the alerts are
# counted before logs are excluded, so they see every request.
resource "google_logging_project_exclusion" "successful_requests" {
  project     = var.project_id
  name        = "${var.name}-successful-requests"
  description = "Nine in ten successful requests of the functions (their metrics still count every request)."
  filter      = "resource.type = \"cloud_run_revision\" AND log_id(\"run.googleapis.com/requests\") AND httpRequest.status < 400 AND sample(insertId, 0.9)"

  depends_on = [time_sleep.apis_ready]
}
