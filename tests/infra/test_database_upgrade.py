"""The release's database step in GCP: the upgrade job (infra/database_upgrade.tf), the two
database roles' secrets, who may read the owner's, and release.sh running the job before the
functions' new revisions are applied."""

from __future__ import annotations

import re

from functions.settings import ServiceSettings
from tests.infra.terraform_config import (
    INFRA,
    ROOT,
    attr,
    blocks,
    body_of,
    content,
    dynamic,
    every_node,
    ref,
    referenced,
    waits_for,
)

JOB = ((), "google_cloud_run_v2_job.database_upgrade")
ACCOUNT = "google_service_account.database_upgrade"
DATABASE = ("database",)
OWNER_SECRET = (DATABASE, "google_secret_manager_secret.database_url")
APP_SECRET = (DATABASE, "google_secret_manager_secret.app_url")
RELEASE = (INFRA / "release" / "release.sh").read_text(encoding="utf-8")


def task() -> dict:
    return blocks(blocks(body_of(*JOB), "template")[0], "template")[0]


def container() -> dict:
    return blocks(task(), "containers")[0]


def secret_of(expression: str) -> tuple:
    [secret] = [
        n for n in referenced((), expression) if n[1].startswith("google_secret_manager_secret.")
    ]
    return secret


def test_the_job_runs_the_upgrade_in_the_releases_image_as_its_own_account() -> None:
    assert attr(container(), "image") == ref("local.functions_image")
    assert attr(container(), "command") == ["python", "-m", "functions.database", "upgrade"]
    assert attr(task(), "service_account") == ref(f"{ACCOUNT}.email")
    assert attr(task(), "max_retries") == 0
    [vpc] = blocks(task(), "vpc_access")
    assert attr(vpc, "connector") == ref("module.network.connector_id")
    assert attr(vpc, "egress") == "PRIVATE_RANGES_ONLY"
    assert "var.release" in str(attr(body_of(*JOB), "labels"))


def test_the_job_connects_as_the_owner_and_names_the_application_role() -> None:
    env = dynamic(container(), "env")
    assert attr(env, "for_each") == ref("local.database_upgrade_secrets")
    [source] = blocks(blocks(content(env), "value_source")[0], "secret_key_ref")
    assert attr(source, "version") == "latest"
    secrets = ROOT["locals"]["database_upgrade_secrets"]
    assert secret_of(secrets["DIAMONDS_DATABASE_URL"]) == OWNER_SECRET
    assert secret_of(secrets["DIAMONDS_DATABASE_APP_URL"]) == APP_SECRET
    settings = {f"DIAMONDS_{name.upper()}" for name in ServiceSettings.model_fields}
    assert set(secrets) <= settings


def test_the_functions_connect_as_the_application_role() -> None:
    assert secret_of(ROOT["locals"]["secrets"]["DIAMONDS_DATABASE_URL"]) == APP_SECRET
    versions = {
        secret: attr(body_of(DATABASE, f"google_secret_manager_secret_version.{name}"), "secret")
        for secret, name in (("owner", "database_url"), ("app", "app_url"))
    }
    assert versions == {
        "owner": ref("google_secret_manager_secret.database_url.id"),
        "app": ref("google_secret_manager_secret.app_url.id"),
    }
    main = (INFRA / "modules" / "database" / "main.tf").read_text(encoding="utf-8")
    assert re.search(r'owner = "postgresql\+psycopg://\$\{google_sql_user\.owner\.name\}', main)
    assert re.search(r'app += "postgresql\+psycopg://\$\{var\.app_role_name\}', main)
    assert "secret_data = local.urls.owner" in main and "secret_data = local.urls.app" in main
    users = [n for n in every_node() if n[1].startswith("google_sql_user.")]
    assert users == [(DATABASE, "google_sql_user.owner")], "the application role is made in SQL"


def test_only_the_jobs_account_reads_the_owners_url() -> None:
    readers = []
    for path, address in every_node():
        if address.startswith("google_secret_manager_secret_iam_"):
            grant = body_of(path, address)
            read = [attr(grant, "secret_id"), attr(grant, "for_each", None)]
            if OWNER_SECRET in referenced(path, read):
                readers.append((path, address, attr(grant, "member")))
    grant = "google_secret_manager_secret_iam_member.database_upgrade"
    assert readers == [((), grant, ref(f"{ACCOUNT}.member"))]
    assert attr(body_of((), grant), "for_each") == ref("local.database_upgrade_secrets")


def test_the_job_may_read_its_secrets_and_they_have_versions() -> None:
    assert waits_for(JOB, ((), "time_sleep.grants_propagated"))
    assert waits_for(JOB, (DATABASE, "google_secret_manager_secret_version.database_url"))
    assert waits_for(JOB, (DATABASE, "google_secret_manager_secret_version.app_url"))


def test_release_sh_upgrades_the_database_before_the_apply() -> None:
    """The release's image first, then the job given that image and run to its end (a failed
    upgrade stops the release), and only then the commit to apply."""
    build = RELEASE.index("gcloud builds submit")
    update = RELEASE.index("gcloud run jobs update")
    execute = RELEASE.index("gcloud run jobs execute")
    printed = RELEASE.index('echo "release = ')
    assert build < update < execute < printed
    assert "output database_upgrade_job" in RELEASE
    assert '--image "$repository/functions@$digest"' in RELEASE
    assert re.search(
        r"if ! gcloud run jobs execute [^\n]*--wait; then\n(?:[^\n]*\n)*?\s+exit 1", RELEASE
    )
    assert RELEASE.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in RELEASE
