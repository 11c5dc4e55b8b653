#!/usr/bin/env bash
# Builds the functions' release of a git commit: its source archive (source.py), kept in the
# environment's function-source bucket as function-source/<commit>.zip, and the image Cloud
# Build makes from that archive (cloudbuild.yaml), pushed as functions:<commit>. Tags are
# immutable: a commit already built is left as it is. Then upgrades the database with that
# image: the environment's upgrade job (database_upgrade.tf) is given it and run, and the
# script fails if the upgrade does; a release older than the schema leaves it as it is. Before
# the first full apply there is no job yet: run the script again after it.
#
#   infra/release/release.sh ENVIRONMENT [REVISION]      REVISION defaults to HEAD
#
# Then set `release = "<commit>"` in infra/environments/ENVIRONMENT/terraform.tfvars and apply:
# the functions' new revisions serve on the upgraded schema.
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
# The image by digest, as Terraform names it (data.google_artifact_registry_docker_image), so
# the apply that follows leaves the job as it is.
digest=$(gcloud artifacts docker images describe "$image" --project "$project" \
  --format 'value(image_summary.digest)')
job=$(output database_upgrade_job 2>/dev/null) || job=""
if [[ -z $job ]] || ! gcloud run jobs describe "$job" --project "$project" --region "$region" >/dev/null 2>&1; then
  echo "release.sh: no database upgrade job yet (before the first full apply): run this again after it" >&2
else
  gcloud run jobs update "$job" --project "$project" --region "$region" \
    --image "$repository/functions@$digest" --update-labels "revision=$commit"
  if ! gcloud run jobs execute "$job" --project "$project" --region "$region" --wait; then
    echo "release.sh: the database upgrade failed; the functions still run the previous release." >&2
    echo "  its log: gcloud logging read 'resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"$job\"' --project $project --limit 50" >&2
    exit 1
  fi
fi
echo "release = \"$commit\""
