# The functions' source archive, built at plan time from the repository (no build step to
# run by hand). Its root holds what the Python runtime expects:
#   main.py            a copy of functions/main.py (the entry points)
#   requirements.txt   a copy of functions/requirements.txt
#   functions/         the package, with its data files (OpenAPI, HTML, migrations, the web page)
#   training/          the package the functions import (record schema, model loading)
# Byte-code caches and anything else in those folders are left out by the patterns, and so is
# the training code no function imports (the notebook's and the accuracy benchmark's model
# comparison).

locals {
  repo_root       = "${path.module}/.."
  package_pattern = "**/*.{py,json,html,ini,mako,js,css,svg}"
  not_deployed    = ["training/comparison.py"]

  function_source_files = merge(
    { for f in fileset("${local.repo_root}/functions", local.package_pattern) : "functions/${f}" => "${local.repo_root}/functions/${f}" },
    { for f in fileset("${local.repo_root}/training", local.package_pattern) : "training/${f}" => "${local.repo_root}/training/${f}" if !contains(local.not_deployed, "training/${f}") },
    {
      "main.py"          = "${local.repo_root}/functions/main.py"
      "requirements.txt" = "${local.repo_root}/functions/requirements.txt"
    },
  )
}

data "archive_file" "function_source" {
  type        = "zip"
  output_path = "${path.root}/.build/function-source.zip"

  dynamic "source" {
    for_each = local.function_source_files

    content {
      filename = source.key
      content  = file(source.value)
    }
  }
}

# Content-addressed: a change anywhere in the source gives a new object name, which makes
# every function rebuild; an unchanged source leaves the functions alone.
resource "google_storage_bucket_object" "function_source" {
  bucket = google_storage_bucket.function_source.name
  name   = "function-source/${data.archive_file.function_source.output_sha256}.zip"
  source = data.archive_file.function_source.output_path
}
