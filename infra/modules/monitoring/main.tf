resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "${var.name} alerts: ${each.value}"
  type         = "email"

  labels = {
    email_address = each.value
  }
}

locals {
  channels       = [for channel in google_monitoring_notification_channel.email : channel.id]
  pricing_filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${var.pricing_service_name}\""
}

resource "google_monitoring_alert_policy" "pricing_errors" {
  project               = var.project_id
  display_name          = "${var.name}: pricing 5xx ratio above ${var.error_ratio_threshold * 100}%"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.channels

  conditions {
    display_name = "5xx responses / all responses, 5 minutes"

    condition_threshold {
      filter             = "${local.pricing_filter} AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      denominator_filter = "${local.pricing_filter} AND metric.type = \"run.googleapis.com/request_count\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.error_ratio_threshold
      duration           = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }

      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The pricing function answers more than ${var.error_ratio_threshold * 100}% of requests with a 5xx. Bad input is a 4xx, so a 5xx is a fault: check the function's logs, the champion model (champion.json) and the database. Runbook: docs/operations.md."
  }
}

resource "google_monitoring_alert_policy" "pricing_latency" {
  project               = var.project_id
  display_name          = "${var.name}: pricing p95 latency above ${var.latency_threshold_ms} ms"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.channels

  conditions {
    display_name = "p95 request latency, 5 minutes"

    condition_threshold {
      filter          = "${local.pricing_filter} AND metric.type = \"run.googleapis.com/request_latencies\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.latency_threshold_ms
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_95"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Pricing p95 latency is above ${var.latency_threshold_ms} ms. Usual causes: cold starts after a deploy or a scale-out (raise min instances), a slow database (prediction log writes), or instances at max (raise max instances within the connection budget). Runbook: docs/operations.md."
  }
}

# A failed run shows on the ml_job resource in two ways: the training command's own last
# words on stderr ("<prog>: error: ..." for unusable input, "unexpected failure" for a
# crash), and the service's record that the replica exited non-zero or the job failed
# (also the case for out-of-memory kills). A gate decision that keeps the champion is not a
# failure and matches neither.
resource "google_monitoring_alert_policy" "training_failed" {
  project               = var.project_id
  display_name          = "${var.name}: training run failed"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.channels

  conditions {
    display_name = "Vertex AI training job failed"

    condition_matched_log {
      filter = "resource.type = \"ml_job\" AND severity >= ERROR AND (textPayload : \"non-zero status\" OR textPayload : \"Job failed\" OR textPayload : \"unexpected failure\" OR textPayload : \": error: \")"

      label_extractors = {
        job_id = "EXTRACT(resource.labels.job_id)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A training job failed; the champion keeps serving. Find the run in runs/<run_id>.json of the models bucket and the job's logs (resource.type=ml_job, job_id in this alert). Runbook: docs/operations.md."
  }
}

# An ingest event that failed every delivery attempt: its file was not ingested, or not to
# the end (the ledger, GET /v1/ingestions, says how far it got).
resource "google_monitoring_alert_policy" "ingest_dead_letter" {
  project               = var.project_id
  display_name          = "${var.name}: an upload could not be ingested"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.channels

  conditions {
    display_name = "messages in the ingest dead-letter subscription"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${var.dead_letter_subscription}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "An upload's event was delivered to ingest for about 15 hours without success and was dead-lettered. Read it from the ${var.dead_letter_subscription} subscription (bucket, object name, generation), check the ingest function's logs and GET /v1/ingestions, fix the cause, then upload the file again. Runbook: docs/operations.md."
  }
}

resource "google_billing_budget" "this" {
  billing_account = var.billing_account_id
  display_name    = "${var.name} monthly budget"

  budget_filter {
    projects = ["projects/${var.project_number}"]
  }

  # No currency_code: the Budget API refuses any but the billing account's own, and fills it
  # in from the account (the provider reads it back, so a second plan shows no change).
  amount {
    specified_amount {
      units = tostring(var.monthly_budget)
    }
  }

  threshold_rules {
    threshold_percent = 0.5
  }

  threshold_rules {
    threshold_percent = 0.9
  }

  threshold_rules {
    threshold_percent = 1.0
  }

  threshold_rules {
    threshold_percent = 1.0
    spend_basis       = "FORECASTED_SPEND"
  }

  all_updates_rule {
    monitoring_notification_channels = local.channels
    disable_default_iam_recipients   = false
  }
}

# Drift and live accuracy: the daily check (drift.tf) writes one JSON log line per
# characteristic, {"logger": "diamonds.monitoring", "drift": {"characteristic", "js_distance",
# "threshold", "crossed", ...}}, and one for the newest scored file, {"accuracy": {"mape",
# "cv_mape", "alert", ...}}. These metrics count the lines that cross; the policies alert on
# any.
locals {
  check_filter = "resource.type = \"cloud_run_revision\" AND jsonPayload.logger = \"diamonds.monitoring\""
}

resource "google_logging_metric" "drift_crossed" {
  project = var.project_id
  name    = "${var.name}-drift-crossed"
  filter  = "${local.check_filter} AND jsonPayload.drift.crossed = true"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${var.name}: characteristics past their drift threshold"

    labels {
      key         = "characteristic"
      value_type  = "STRING"
      description = "The characteristic (or price) whose Jensen-Shannon distance crossed."
    }
  }

  label_extractors = {
    characteristic = "EXTRACT(jsonPayload.drift.characteristic)"
  }
}

resource "google_logging_metric" "live_mape_alert" {
  project = var.project_id
  name    = "${var.name}-live-mape-alert"
  filter  = "${local.check_filter} AND jsonPayload.accuracy.alert = true"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${var.name}: live MAPE past its alert line"
  }
}

resource "google_monitoring_alert_policy" "drift" {
  project               = var.project_id
  display_name          = "${var.name}: the stones priced drifted from the training stones"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.channels

  conditions {
    display_name = "a characteristic past its drift threshold in the daily check"

    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.drift_crossed.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.characteristic"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "172800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Yesterday's stones priced are spread differently from the champion's training stones on the characteristic this alert names (Jensen-Shannon distance past its threshold, with at least 500 stones). Open the pricing desk's Monitoring view or run `diamonds monitor --window 1d` (and `--partner` for each partner) to see which characteristic, which partner and which part of the price moved. Runbook: docs/operations.md, \"Drift and live accuracy\"."
  }
}

resource "google_monitoring_alert_policy" "live_mape" {
  project               = var.project_id
  display_name          = "${var.name}: live MAPE past 1.5 × the champion's cross-validated MAPE"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.channels

  conditions {
    display_name = "the newest scored file's MAPE past its alert line"

    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.live_mape_alert.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "172800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The champion priced the newest ingested file's fresh appraisals with a MAPE more than 1.5 times its own cross-validated MAPE: prices have moved away from what it learned. GET /v1/monitoring (or the Monitoring view) shows the series; the retraining the file asked for is the usual remedy (GET /v1/runs). Runbook: docs/operations.md, \"Drift and live accuracy\"."
  }
}
