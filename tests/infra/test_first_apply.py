"""The first `terraform apply` on a new project: everything waits for what it needs.

A brand-new project has no API enabled and no secret version; Terraform creates in parallel
whatever does not wait for something else. These tests follow the references and depends_on
of every resource (tests/infra/terraform_config.py) to check that nothing is created before
the API it calls answers, and no function before the secret versions it reads.
"""

from __future__ import annotations

import re

import pytest

from tests.infra.terraform_config import (
    INFRA,
    ROOT,
    Node,
    attr,
    blocks,
    body_of,
    declared,
    dependencies,
    every_node,
    referenced,
    waits_for,
)

README = (INFRA / "README.md").read_text(encoding="utf-8")
APIS_READY: Node = ((), "time_sleep.apis_ready")
FUNCTION: Node = (("function",), "google_cloud_run_v2_service.this")
FUNCTION_GRANTS_WAIT: Node = (("function",), "time_sleep.secret_grants_propagated")
# Grants on what the functions' creation makes first: nothing uses them before the apply ends
# (the invoker grant is used by the first pushed upload, the subscriber grant by the first
# dead letter, hours later).
AFTER_THE_FUNCTIONS: set[Node] = {
    (("function",), "google_cloud_run_v2_service_iam_member.invoker"),
    ((), "google_pubsub_subscription_iam_member.dead_letter_subscriber"),
    ((), "google_pubsub_subscription_iam_member.monitoring_check_dead_letter"),
}

# The API each resource type calls, by type prefix (the longest prefix wins).
API_OF_TYPE = {
    "google_artifact_registry_": "artifactregistry.googleapis.com",
    "google_billing_budget": "billingbudgets.googleapis.com",
    "google_cloud_run_v2_": "run.googleapis.com",
    "google_cloud_scheduler_": "cloudscheduler.googleapis.com",
    "google_compute_": "compute.googleapis.com",
    "google_logging_": "logging.googleapis.com",
    "google_monitoring_": "monitoring.googleapis.com",
    "google_project": "cloudresourcemanager.googleapis.com",
    "google_project_iam_": "cloudresourcemanager.googleapis.com",
    "google_project_iam_custom_role": "iam.googleapis.com",
    "google_project_service_identity": "serviceusage.googleapis.com",
    "google_pubsub_": "pubsub.googleapis.com",
    "google_secret_manager_": "secretmanager.googleapis.com",
    "google_service_account": "iam.googleapis.com",
    "google_service_networking_": "servicenetworking.googleapis.com",
    "google_sql_": "sqladmin.googleapis.com",
    "google_storage_": "storage.googleapis.com",
    "google_vpc_access_": "vpcaccess.googleapis.com",
}


def api_of(address: str) -> str:
    rtype = address.removeprefix("data.").split(".")[0]
    prefixes = [p for p in API_OF_TYPE if rtype.startswith(p)]
    assert prefixes, f"{rtype}: which API does it call? Add it to API_OF_TYPE"
    return API_OF_TYPE[max(prefixes, key=len)]


def prerequisite_apis() -> set[str]:
    """The APIs infra/README.md enables by hand before Terraform runs at all."""
    command = re.search(r"gcloud services enable ([^\n]*(?:\\\n[^\n]*)*)", README)
    assert command, "infra/README.md must enable the prerequisite APIs with gcloud"
    return set(re.findall(r"[a-z]+\.googleapis\.com", command.group(1)))


GOOGLE_NODES = [
    node
    for node in every_node()
    if node[1].removeprefix("data.").startswith("google_")
    and node[1] != "google_project_service.this"
]


def test_enabled_apis_are_given_time_to_propagate() -> None:
    """Google answers 403 "SERVICE_DISABLED ... If you enabled this API recently, wait a few
    minutes for the action to propagate" for a while after an API is enabled."""
    assert APIS_READY[1] in declared(())
    wait = body_of(*APIS_READY)
    assert ((), "google_project_service.this") in dependencies(*APIS_READY)
    assert re.fullmatch(r"\d+s", attr(wait, "create_duration"))
    assert int(attr(wait, "create_duration")[:-1]) >= 60
    assert "local.services" in str(attr(wait, "triggers")), "a newly added API must wait too"


@pytest.mark.parametrize("node", GOOGLE_NODES, ids=lambda n: ".".join((*n[0], n[1])))
def test_every_resource_waits_for_the_api_it_calls(node: Node) -> None:
    api = api_of(node[1])
    services = ROOT["locals"]["services"]
    assert api in services or api in prerequisite_apis(), f"{api} is never enabled"
    if node[1].startswith("data.") and api in prerequisite_apis():
        return  # read at plan time; the README enables its API before the first plan
    assert waits_for(node, APIS_READY), f"{node} can run before {api} answers"


def secret_versions() -> dict[Node, Node]:
    """Every Secret Manager secret of the deployment => the version Terraform writes to it."""
    versions = {}
    for path, address in every_node():
        if address.startswith("google_secret_manager_secret_version."):
            secret = attr(body_of(path, address), "secret")
            name = re.fullmatch(r"\$\{(google_secret_manager_secret\.\w+)\.id\}", secret)
            assert name, f"{address}: secret = {secret}"
            versions[(path, name.group(1))] = (path, address)
    return versions


def test_every_secret_read_at_latest_has_a_version_before_the_functions() -> None:
    """Cloud Run refuses a revision whose secret has no version yet ("Secret .../versions/latest
    was not found"); the database URL's version waits for Cloud SQL, 10-15 minutes."""
    container = blocks(blocks(body_of(*FUNCTION), "template")[0], "containers")[0]
    secret_env = [
        blocks(b["env"], "content")[0]
        for b in blocks(container, "dynamic")
        if "env" in b and "secret" in attr(b["env"], "for_each")
    ]
    [source] = blocks(blocks(secret_env[0], "value_source")[0], "secret_key_ref")
    assert attr(source, "version") == "latest"
    versions = secret_versions()
    for name, expression in ROOT["locals"]["secrets"].items():
        [secret] = [
            node
            for node in referenced((), expression)
            if node[1].startswith("google_secret_manager_secret.")
        ]
        assert secret in versions, f"{name}: Terraform writes no version of {secret}"
        assert waits_for(FUNCTION, versions[secret]), f"the functions can start before {name}"


@pytest.mark.parametrize(
    ("wait", "path"),
    [(((), "time_sleep.grants_propagated"), ()), (FUNCTION_GRANTS_WAIT, ("function",))],
)
def test_functions_wait_for_their_grants_to_propagate(wait: Node, path: tuple[str, ...]) -> None:
    """IAM grants take typically 2 minutes, sometimes 7 or more, to take effect; the first
    revisions and the uploads' notification fail if they use them before."""
    grants = [
        n for n in every_node() if n[0] == path and re.match(r"google_\w+_iam_member\.", n[1])
    ]
    assert grants
    for grant in grants:
        if grant in AFTER_THE_FUNCTIONS:
            continue
        assert grant in dependencies(*wait), f"{grant} is not waited for"
    assert waits_for(FUNCTION, wait)


def test_budget_is_in_the_billing_accounts_currency() -> None:
    """The Budget API refuses a currency other than the billing account's; left out, it is
    filled in from the account (and read back, so a second plan shows no change)."""
    budget = body_of(("monitoring",), "google_billing_budget.this")
    specified = blocks(blocks(budget, "amount")[0], "specified_amount")[0]
    assert "currency_code" not in specified
    assert "var.monthly_budget" in attr(specified, "units")


def test_provider_lock_files_are_the_documented_first_step() -> None:
    """The lock files could not be made where the tree was written (no registry access):
    making and committing them for the team's platforms is step 1 of infra/README.md."""
    assert "terraform providers lock" in README
    for platform in ("linux_amd64", "darwin_arm64", "darwin_amd64", "windows_amd64"):
        assert f"-platform={platform}" in README
    for lock in INFRA.rglob(".terraform.lock.hcl"):
        text = lock.read_text(encoding="utf-8")
        google = re.search(
            r'provider "registry.terraform.io/hashicorp/google" \{\s+version\s+=\s+"([^"]+)"', text
        )
        assert google and google.group(1).startswith("6.50."), lock
