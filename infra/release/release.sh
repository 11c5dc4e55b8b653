#!/usr/bin/env bash
# Builds the functions' release of a git commit: its source archive (source.py), kept in the
# environment's function-source bucket as function-source/<commit>.zip, and the image Cloud
# Build makes from that archive (cloudbuild.yaml), pushed as functions:<commit>. Tags are
# immutable: a commit already built is left as it is.
#
#   infra/release/release.sh ENVIRONMENT [REVISION]      REVISION defaults to HEAD
#
# Then set `release = "<commit>"` in infra/environments/ENVIRONMENT/terraform.tfvars and apply.
# Needs git, python3, gcloud (logged in) and the environment's terraform init.
set -euo pipefail

environment=${1:?usage: release.sh ENVIRONMENT [REVISION]}
revision=${2:-HEAD}
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../environments/$environment
output() { terraform -chdir="$root" output -raw "$1"; }

repository=$(output functions_image_repository) # REGION-docker.pkg.dev/PROJECT/REPOSITORY
sources=$(output function_source_bucket)
builder=$(output builder_service_account)
region=${repository%%-docker.pkg.dev/*}
project=$(cut -d/ -f2 <<<"$repository")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
commit=$(python3 "$here/source.py" "$revision" "$work/source.zip")
image=$repository/functions:$commit

if gcloud artifacts docker images describe "$image" --project "$project" >/dev/null 2>&1; then
  echo "release.sh: $image exists already" >&2
else
  archive=gs://$sources/function-source/$commit.zip
  gcloud storage cp --project "$project" "$work/source.zip" "$archive"
  gcloud builds submit "$archive" --project "$project" --region "$region" \
    --config "$here/cloudbuild.yaml" --service-account "$builder" \
    --substitutions "_IMAGE=$image,_REVISION=$commit"
fi
echo "release = \"$commit\""
