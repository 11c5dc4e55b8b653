# The bucket comes from the bootstrap: terraform init -backend-config="bucket=<state bucket>"
terraform {
  backend "gcs" {
    prefix = "diamonds/dev"
  }
}
