variable "project_id" {
  description = "Project whose metrics and logs are watched."
  type        = string
}

variable "project_number" {
  description = "Number of the same project, for the budget's project filter."
  type        = string
}

variable "name" {
  description = "Prefix of the display names."
  type        = string
}

variable "alert_emails" {
  description = "E-mail addresses notified by every alert and by the budget (at most 5: the budget's limit of notification channels)."
  type        = list(string)

  validation {
    condition     = length(var.alert_emails) <= 5
    error_message = "A budget notifies at most five channels: give at most five e-mail addresses."
  }
}

variable "pricing_service_name" {
  description = "Name of the Cloud Run service behind the pricing function (the function's name)."
  type        = string
}

variable "error_ratio_threshold" {
  description = "Share of pricing requests with a 5xx response that raises an alert."
  type        = number
}

variable "latency_threshold_ms" {
  description = "p95 pricing latency in milliseconds that raises an alert."
  type        = number
}

variable "dead_letter_subscription" {
  description = "Name of the Pub/Sub subscription of the ingest dead-letter topic."
  type        = string
}

variable "billing_account_id" {
  description = "Billing account on which the budget is created."
  type        = string
}

variable "monthly_budget" {
  description = "Monthly budget amount in the billing account's currency."
  type        = number
}
