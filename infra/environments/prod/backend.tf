# This environment's own state bucket, in its project, made by infra/bootstrap:
# terraform init -backend-config="bucket=<project>-tfstate"
terraform {
  backend "gcs" {
    prefix = "diamonds/prod"
  }
}
