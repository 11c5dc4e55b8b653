variable "project_id" {
  description = "Project that holds the Terraform state bucket (the prod project, or a separate operations project)."
  type        = string
}

variable "region" {
  description = "Location of the state bucket."
  type        = string
  default     = "europe-west1"
}

variable "bucket_name" {
  description = "Globally unique name of the state bucket, e.g. <project_id>-tfstate."
  type        = string
}
