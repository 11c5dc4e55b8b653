variable "project_id" {
  description = "The environment's own project (the one its Terraform deploys into): its state and the secrets in it stay there."
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
