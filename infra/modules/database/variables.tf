variable "project_id" {
  description = "Project that owns the instance and the secret."
  type        = string
}

variable "region" {
  description = "Region of the Cloud SQL instance and of the secret's replica."
  type        = string
}

variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "network_id" {
  description = "VPC in which the instance gets its private IP (private services access must already be connected)."
  type        = string
}

variable "tier" {
  description = "Machine tier, e.g. db-f1-micro or db-custom-1-3840."
  type        = string
}

variable "high_availability" {
  description = "REGIONAL availability (a standby in a second zone with automatic failover) instead of ZONAL."
  type        = bool
}

variable "disk_size_gb" {
  description = "Initial SSD size in GB; automatic storage increase is on, up to disk_limit_gb."
  type        = number
}

variable "disk_limit_gb" {
  description = "The most automatic storage increase may grow the disk to, in GB."
  type        = number
}

variable "max_connections" {
  description = "The max_connections flag; null keeps Cloud SQL's default for the tier (25 on db-f1-micro, 50 on db-g1-small, 100 at 3.75 GB)."
  type        = number
  default     = null
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "diamonds"
}

variable "owner_name" {
  description = "Name of the built-in database user that owns the tables (the release's upgrade connects as it)."
  type        = string
  default     = "diamonds"
}

variable "app_role_name" {
  description = "Name of the role the functions connect as: rows only, no schema changes (created and granted by the release's upgrade)."
  type        = string
  default     = "diamonds_app"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.app_role_name))
    error_message = "app_role_name must be a lower-case PostgreSQL identifier."
  }
}

variable "backup_retention_count" {
  description = "Number of daily automated backups to keep."
  type        = number
  default     = 14
}

variable "log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery (1-7)."
  type        = number
  default     = 7
}

variable "labels" {
  description = "Labels for the instance and the secret."
  type        = map(string)
  default     = {}
}
