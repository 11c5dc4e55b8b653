variable "project_id" {
  description = "The dev project."
  type        = string
}

variable "region" {
  description = "Region of every regional resource."
  type        = string
  default     = "europe-west1"
}

variable "billing_account_id" {
  description = "Billing account of the project (gcloud billing projects describe PROJECT)."
  type        = string
}

variable "alert_emails" {
  description = "Who receives alerts and budget notifications."
  type        = list(string)
}

variable "api_domain" {
  description = "Host name of the API; null serves it at <ip>.sslip.io without DNS setup."
  type        = string
  default     = null
}

variable "release" {
  description = "The git commit whose functions image infra/release built and pushed."
  type        = string
}

variable "training_image_tag" {
  description = "Tag (git commit) of the training image pushed to Artifact Registry."
  type        = string
}
