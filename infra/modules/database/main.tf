# The inventory database: PostgreSQL with a private IP only, daily backups plus
# write-ahead logs for point-in-time recovery, and deletion protection at two levels
# (Terraform refuses to destroy it, and so does the Cloud SQL API). The caller must create
# it after the private services access peering (module depends_on).

resource "google_sql_database_instance" "this" {
  # checkov:skip=CKV_GCP_6:TLS is enforced (ssl_mode ENCRYPTED_ONLY, sslmode=require in the URL) on a private-IP-only path; client certificates would be one more secret to distribute and rotate for no gain over password auth from Secret Manager.
  # checkov:skip=CKV2_GCP_13:log_duration would log every statement's duration, the largest log of all at partner traffic (every price writes a prediction row); Query Insights records slow queries instead.
  # checkov:skip=CKV_GCP_79:POSTGRES_17 is the newest major version Cloud SQL Enterprise edition offers generally available with shared-core dev tiers; upgrading in place is one gcloud sql instances patch --database-version.
  project             = var.project_id
  name                = "${var.name}-pg"
  region              = var.region
  database_version    = "POSTGRES_17"
  deletion_protection = true

  settings {
    edition                     = "ENTERPRISE"
    tier                        = var.tier
    availability_type           = var.high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    disk_autoresize_limit       = var.disk_limit_gb
    deletion_protection_enabled = true
    user_labels                 = var.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.log_retention_days

      backup_retention_settings {
        retained_backups = var.backup_retention_count
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = true
      record_client_address   = false
    }

    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    # Not every statement's duration: one log entry per statement would be the largest log
    # of all at partner traffic (every price writes a prediction). Query Insights keeps the
    # slow queries.
    database_flags {
      name  = "log_duration"
      value = "off"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }

    dynamic "database_flags" {
      for_each = var.max_connections == null ? [] : [var.max_connections]

      content {
        name  = "max_connections"
        value = tostring(database_flags.value)
      }
    }
  }
}

resource "google_sql_database" "this" {
  project  = var.project_id
  name     = var.database_name
  instance = google_sql_database_instance.this.name
}

# Alphanumeric only, so the password needs no escaping inside the SQLAlchemy URL.
resource "random_password" "user" {
  length  = 32
  special = false
}

resource "google_sql_user" "app" {
  project  = var.project_id
  name     = var.user_name
  instance = google_sql_database_instance.this.name
  password = random_password.user.result

  # PostgreSQL refuses to drop a role that owns the tables: a destroy forgets the user instead
  # of failing half-way (the instance goes with it, or stays under deletion protection).
  deletion_policy = "ABANDON"
}

# The whole SQLAlchemy URL is the secret: the functions read it as DIAMONDS_DATABASE_URL.
resource "google_secret_manager_secret" "database_url" {
  project   = var.project_id
  secret_id = "${var.name}-database-url"
  labels    = var.labels

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}

resource "google_secret_manager_secret_version" "database_url" {
  secret      = google_secret_manager_secret.database_url.id
  secret_data = "postgresql+psycopg://${google_sql_user.app.name}:${random_password.user.result}@${google_sql_database_instance.this.private_ip_address}:5432/${google_sql_database.this.name}?sslmode=require"
}
