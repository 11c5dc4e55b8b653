# The one public entry point: a global external Application Load Balancer with a
# Google-managed certificate, Cloud Armor in front of every backend, and one serverless
# network endpoint group per HTTP function; plain HTTP on the same address is redirected. The
# functions themselves accept traffic only from the load balancer and internal sources
# (ingress INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER).

resource "google_compute_global_address" "this" {
  project      = var.project_id
  name         = "${var.name}-api"
  address_type = "EXTERNAL"
  ip_version   = "IPV4"
}

locals {
  domain = coalesce(var.domain, "${replace(google_compute_global_address.this.address, ".", "-")}.sslip.io")
}

# A domain change replaces the certificate, and the new one is made before the old one is
# removed (the proxy cannot be left without one): each domain's certificate has its own name.
resource "google_compute_managed_ssl_certificate" "this" {
  project = var.project_id
  name    = "${var.name}-api-${substr(sha256(local.domain), 0, 8)}"

  managed {
    domains = [local.domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "this" {
  project         = var.project_id
  name            = "${var.name}-tls"
  profile         = "RESTRICTED"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_security_policy" "this" {
  project     = var.project_id
  name        = "${var.name}-api-armor"
  description = "Edge policy of the diamonds API: known-exploit probes blocked, per-key and per-IP rate limits."
  type        = "CLOUD_ARMOR"

  advanced_options_config {
    json_parsing = "STANDARD"
    log_level    = "NORMAL"
  }

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  rule {
    description = "Block Log4Shell (CVE-2021-44228) probes."
    action      = "deny(403)"
    priority    = 1000

    match {
      expr {
        expression = "evaluatePreconfiguredExpr('cve-canary')"
      }
    }
  }

  rule {
    description = "Per-key rate limit: requests with an Authorization header, counted per header value; a key far over it is banned a while."
    action      = "rate_based_ban"
    priority    = 1500

    match {
      expr {
        expression = "has(request.headers['authorization'])"
      }
    }

    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"

      enforce_on_key_configs {
        enforce_on_key_type = "HTTP_HEADER"
        enforce_on_key_name = "Authorization"
      }

      rate_limit_threshold {
        count        = var.key_rate_limit_per_minute
        interval_sec = 60
      }

      ban_threshold {
        count        = 5 * var.key_rate_limit_per_minute
        interval_sec = 300
      }
      ban_duration_sec = 600
    }
  }

  rule {
    description = "Per-client-IP rate limit."
    action      = "throttle"
    priority    = 2000

    match {
      versioned_expr = "SRC_IPS_V1"

      config {
        src_ip_ranges = ["*"]
      }
    }

    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"

      rate_limit_threshold {
        count        = var.rate_limit_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    description = "Default: allow (authentication is the API key, checked by the functions)."
    action      = "allow"
    priority    = 2147483647

    match {
      versioned_expr = "SRC_IPS_V1"

      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

# A 2nd gen function is served by the Cloud Run service of the same name, and serverless
# NEGs reach it as Cloud Run (the cloud_function type is for 1st gen functions).
resource "google_compute_region_network_endpoint_group" "this" {
  for_each = var.backends

  project               = var.project_id
  name                  = "${var.name}-${each.key}-neg"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = each.value
  }
}

resource "google_compute_backend_service" "this" {
  for_each = var.backends

  project               = var.project_id
  name                  = "${var.name}-${each.key}-backend"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.this.id

  backend {
    group = google_compute_region_network_endpoint_group.this[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = var.log_sample_rate
  }
}

resource "google_compute_url_map" "this" {
  project         = var.project_id
  name            = "${var.name}-api"
  default_service = google_compute_backend_service.this[var.default_backend].id

  host_rule {
    hosts        = ["*"]
    path_matcher = "api"
  }

  path_matcher {
    name            = "api"
    default_service = google_compute_backend_service.this[var.default_backend].id

    dynamic "path_rule" {
      for_each = toset(values(var.routes))

      content {
        paths   = sort([for path, backend in var.routes : path if backend == path_rule.value])
        service = google_compute_backend_service.this[path_rule.value].id
      }
    }
  }
}

resource "google_compute_target_https_proxy" "this" {
  project          = var.project_id
  name             = "${var.name}-api"
  url_map          = google_compute_url_map.this.id
  ssl_certificates = [google_compute_managed_ssl_certificate.this.id]
  ssl_policy       = google_compute_ssl_policy.this.id
}

resource "google_compute_global_forwarding_rule" "https" {
  project               = var.project_id
  name                  = "${var.name}-api-https"
  ip_address            = google_compute_global_address.this.id
  ip_protocol           = "TCP"
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  target                = google_compute_target_https_proxy.this.id
}

# Port 80 on the same address answers every request with a redirect to HTTPS and reaches no
# backend (it shares the forwarding-rule price of the first five rules).
resource "google_compute_url_map" "https_redirect" {
  project = var.project_id
  name    = "${var.name}-api-https-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "https_redirect" {
  project = var.project_id
  name    = "${var.name}-api-https-redirect"
  url_map = google_compute_url_map.https_redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  project               = var.project_id
  name                  = "${var.name}-api-http"
  ip_address            = google_compute_global_address.this.id
  ip_protocol           = "TCP"
  port_range            = "80"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  target                = google_compute_target_http_proxy.https_redirect.id
}
