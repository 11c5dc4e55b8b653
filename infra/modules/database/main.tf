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

# Two roles. The owner, a built-in user, owns the tables: the release's upgrade connects as it
# (the only reader of its URL's secret). The application role the functions connect as may
# read and write rows only. Cloud SQL makes every user created through its API a member of
# cloudsqlsuperuser (which may create roles and databases and owns the database), so the
# application role is made in SQL by that same upgrade, as the owner: Terraform gives it its
# name and password (its URL's secret), the upgrade creates it, sets the password and grants
# its rights (functions/database/roles.py).

# Alphanumeric only, so the passwords need no escaping inside the SQLAlchemy URLs.
resource "random_password" "owner" {
  length  = 32
  special = false
}

resource "random_password" "app" {
  length  = 32
  special = false
}

moved {
  from = random_password.user
  to   = random_password.owner
}

resource "google_sql_user" "owner" {
  project  = var.project_id
  name     = var.owner_name
  instance = google_sql_database_instance.this.name
  password = random_password.owner.result

  # PostgreSQL refuses to drop a role that owns the tables: a destroy forgets the user instead
  # of failing half-way (the instance goes with it, or stays under deletion protection).
  deletion_policy = "ABANDON"
}

moved {
  from = google_sql_user.app
  to   = google_sql_user.owner
}

locals {
  address = "${google_sql_database_instance.this.private_ip_address}:5432/${google_sql_database.this.name}?sslmode=require"
  urls = {
    owner = "postgresql+psycopg://${google_sql_user.owner.name}:${random_password.owner.result}@${local.address}"
    app   = "postgresql+psycopg://${var.app_role_name}:${random_password.app.result}@${local.address}"
  }
}

# Each whole SQLAlchemy URL is a secret: the owner's for the upgrade (DIAMONDS_DATABASE_URL of
# the release's job), the application role's for the functions (their DIAMONDS_DATABASE_URL,
# the job's DIAMONDS_DATABASE_APP_URL).
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
  secret_data = local.urls.owner
}

resource "google_secret_manager_secret" "app_url" {
  project   = var.project_id
  secret_id = "${var.name}-database-app-url"
  labels    = var.labels

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}

resource "google_secret_manager_secret_version" "app_url" {
  secret      = google_secret_manager_secret.app_url.id
  secret_data = local.urls.app
}
