"""Static checks of the Terraform in infra/: it parses, and it is wired to what the code reads.

The wiring (function environment, event trigger, routing, network exposure, IAM) is asserted
on the configuration as tests/infra/terraform_config.py parses it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from functions.deployables import DEPLOYABLES, HTTP_TARGETS
from tests.infra.terraform_config import (
    INFRA,
    MODULE_DIRS,
    REPO,
    ROOT,
    TF_FILES,
    attr,
    blocks,
    content,
    dynamic,
    expr,
    listed_names,
    module_config,
    parse,
    ref,
    walk,
)

ENTRY_POINTS = set(DEPLOYABLES)
HTTP_ENTRY_POINTS = set(HTTP_TARGETS)
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}

FUNCTION_MODULE = module_config(INFRA / "modules" / "function")
DATABASE_MODULE = module_config(INFRA / "modules" / "database")
FRONT_DOOR_MODULE = module_config(INFRA / "modules" / "front_door")


# --- the names the code reads ---------------------------------------------------------------


@pytest.fixture(scope="module")
def settings_names() -> set[str]:
    from functions.settings import ServiceSettings

    return {"DIAMONDS_" + field.upper() for field in ServiceSettings.model_fields}


# --- every file parses, every input and output is documented --------------------------------


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_every_tf_file_parses(path: Path) -> None:
    assert isinstance(parse(path), dict)


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda p: str(p.relative_to(REPO)))
def test_variables_are_typed_and_described_and_outputs_described(directory: Path) -> None:
    config = module_config(directory)
    for name, body in config["variable"].items():
        assert attr(body, "type", None), f"variable {name} in {directory} has no type"
        assert attr(body, "description", "").strip(), (
            f"variable {name} in {directory} has no description"
        )
    for name, body in config["output"].items():
        assert attr(body, "description", "").strip(), (
            f"output {name} in {directory} has no description"
        )


# The versions tools/tfcheck.py checked the tree against; the lock files record the exact
# builds (infra/README.md: terraform providers lock).
PINS = {
    "google": "~> 6.50.0",
    "google-beta": "~> 6.50.0",
    "random": "~> 3.7.2",
    "time": "~> 0.13.1",
}


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda p: str(p.relative_to(REPO)))
def test_providers_are_pinned_to_the_versions_checked(directory: Path) -> None:
    versions = directory / "versions.tf"
    assert versions.exists(), f"{directory} has no versions.tf"
    terraform = parse(versions)["terraform"][0]
    providers = blocks(terraform, "required_providers")[0]
    assert "google" in providers
    for name in providers:
        provider = attr(providers, name)
        assert provider["source"] == f"hashicorp/{name}"
        assert re.sub(r"\s", "", provider["version"]) == re.sub(r"\s", "", PINS[name]), name
    assert attr(terraform, "required_version").startswith(">=")


@pytest.mark.parametrize(
    "directory",
    [d for d in MODULE_DIRS if "environments" not in d.parts],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_readme_lists_every_input_and_output(directory: Path) -> None:
    readme = (directory / "README.md").read_text(encoding="utf-8")
    config = module_config(directory)
    for kind in ("variable", "output"):
        for name in config[kind]:
            assert f"| `{name}` |" in readme, f"{directory}/README.md does not list {kind} {name}"


def test_each_environment_keeps_its_state_in_a_bucket_of_its_own_project() -> None:
    """The state holds the database password and the first API key: prod's must not sit in
    the dev project. The bucket is named at init; bootstrap makes one per environment."""
    for environment in ("dev", "prod"):
        terraform = parse(INFRA / "environments" / environment / "backend.tf")["terraform"][0]
        backend = blocks(terraform, "backend")[0]["gcs"]
        assert "bucket" not in backend, "a bucket written here would be shared"
        assert attr(backend, "prefix") == f"diamonds/{environment}"
    bootstrap = (INFRA / "bootstrap" / "README.md").read_text(encoding="utf-8")
    assert "terraform workspace new dev" in bootstrap


# --- functions ------------------------------------------------------------------------------


def functions() -> dict[str, dict]:
    return ROOT["locals"]["functions"]


def function_call() -> dict:
    return ROOT["module"]["function"]


def test_one_function_per_entry_point() -> None:
    assert set(functions()) == ENTRY_POINTS
    call = function_call()
    assert attr(call, "for_each") == ref("local.functions")
    assert attr(call, "entry_point") == ref("each.key")
    assert attr(call, "source") == "./modules/function"


def service() -> dict:
    return FUNCTION_MODULE["resource"]["google_cloud_run_v2_service.this"]


def container() -> dict:
    return blocks(blocks(service(), "template")[0], "containers")[0]


def container_env() -> tuple[dict[str, str], list[dict]]:
    """The container's literal env blocks (name => value) and its dynamic ones."""
    literal = {attr(b, "name"): attr(b, "value") for b in blocks(container(), "env")}
    return literal, [b["env"] for b in blocks(container(), "dynamic") if "env" in b]


def test_each_function_runs_its_target_of_the_release_image_with_vpc_egress() -> None:
    """One image serves every target: the service names its own (functions-framework reads
    FUNCTION_TARGET) on the framework's mode the table of deployables gives it (async, or
    with as many threads as requests it may serve at once)."""
    assert attr(container(), "image") == ref("var.image")
    literal, _ = container_env()
    assert literal["FUNCTION_TARGET"] == ref("var.entry_point")
    assert literal["FUNCTION_USE_ASGI"] == ref("tostring(var.asynchronous)")
    assert attr(function_call(), "asynchronous") == ref("each.value.asynchronous")
    assert literal["THREADS"] == ref("tostring(var.concurrency)")
    template = blocks(service(), "template")[0]
    assert attr(template, "max_instance_request_concurrency") == ref("var.concurrency")
    assert attr(template, "service_account") == ref("var.service_account_email")
    vpc = blocks(template, "vpc_access")[0]
    assert attr(vpc, "connector") == ref("var.vpc_connector")
    assert attr(vpc, "egress") == "PRIVATE_RANGES_ONLY"
    assert attr(service(), "ingress") == ref("var.ingress")
    assert attr(function_call(), "vpc_connector") == ref("module.network.connector_id")
    assert attr(function_call(), "image") == ref("local.functions_image")


def test_environment_and_secrets_reach_the_function_resource() -> None:
    call = function_call()
    env_expr = attr(call, "environment_variables")
    secret_expr = attr(call, "secret_environment_variables")
    assert "each.value.env" in env_expr and "local.environment[name]" in env_expr
    assert "each.value.secrets" in secret_expr and "local.secrets[name]" in secret_expr

    _, [plain, secret] = container_env()
    assert attr(plain, "for_each") == ref("var.environment_variables")
    assert attr(content(plain), "value") == ref("env.value")
    assert attr(secret, "for_each") == ref("var.secret_environment_variables")
    source = blocks(blocks(content(secret), "value_source")[0], "secret_key_ref")[0]
    assert attr(source, "secret") == ref("env.value")
    # Each function may read exactly the secrets it is given.
    grant = FUNCTION_MODULE["resource"]["google_secret_manager_secret_iam_member.this"]
    assert attr(grant, "for_each") == ref("var.secret_environment_variables")
    assert attr(grant, "role") == "roles/secretmanager.secretAccessor"


def test_every_environment_name_is_a_setting_the_code_reads(settings_names: set[str]) -> None:
    environment = ROOT["locals"]["environment"]
    secrets = ROOT["locals"]["secrets"]
    assert not set(environment) & set(secrets), "a name is both plain and secret"
    assert set(environment) <= settings_names, set(environment) - settings_names
    assert set(secrets) <= settings_names, set(secrets) - settings_names
    for name, fn in functions().items():
        env = listed_names(fn["env"])
        secret_env = listed_names(fn["secrets"])
        assert env, name
        assert set(env) <= set(environment), f"{name}: {set(env) - set(environment)}"
        assert set(secret_env) <= set(secrets), f"{name}: {set(secret_env) - set(secrets)}"
        assert set(env) | set(secret_env) <= settings_names, name
        assert "DIAMONDS_DATABASE_URL" in secret_env, f"{name} cannot reach the inventory"


def test_secrets_are_never_plain_environment_variables() -> None:
    environment = ROOT["locals"]["environment"]
    assert "DIAMONDS_DATABASE_URL" not in environment
    assert "DIAMONDS_API_KEYS" not in environment
    assert ROOT["locals"]["secrets"] == {
        "DIAMONDS_DATABASE_URL": ref("module.database.app_url_secret_id"),
        "DIAMONDS_API_KEYS": ref("google_secret_manager_secret.api_keys.secret_id"),
    }


def test_environment_values_point_at_the_right_resources() -> None:
    environment = ROOT["locals"]["environment"]
    assert environment["DIAMONDS_DATA_ROOT"] == "gs://" + ref("google_storage_bucket.data.name")
    assert environment["DIAMONDS_MODELS_ROOT"] == "gs://" + ref("google_storage_bucket.models.name")
    assert environment["DIAMONDS_TRAINING_RUNNER"] == "vertex"
    assert environment["DIAMONDS_VERTEX_SERVICE_ACCOUNT"] == ref(
        "google_service_account.trainer.email"
    )
    assert environment["DIAMONDS_VERTEX_STAGING_BUCKET"] == "gs://" + ref(
        "google_storage_bucket.vertex_staging.name"
    )
    assert environment["DIAMONDS_TRAINING_IMAGE"] == ref("local.training_image")
    assert "/training:" in ROOT["locals"]["training_image"]


def test_only_the_launching_functions_get_the_training_settings() -> None:
    launching = {
        "DIAMONDS_TRAINING_RUNNER",
        "DIAMONDS_TRAINING_IMAGE",
        "DIAMONDS_VERTEX_SERVICE_ACCOUNT",
    }
    for name, fn in functions().items():
        has = launching <= set(listed_names(fn["env"]))
        assert has == (name in {"retrain", "ingest"}), name


def test_functions_are_never_exposed_directly() -> None:
    for name, fn in functions().items():
        expected = (
            "INGRESS_TRAFFIC_INTERNAL_ONLY"
            if name == "ingest"
            else "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
        )
        assert fn["ingress"] == expected, name


# --- organisation policies: no allUsers anywhere ---------------------------------------------


PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_no_grant_names_all_users(path: Path) -> None:
    """Domain-restricted sharing (iam.allowedPolicyMemberDomains) refuses such a grant about
    20 minutes into a first apply, with the functions half-deployed."""
    for key, value in walk(parse(path)):
        if key in ("member", "members", "invoker_members"):
            assert not any(m in str(value) for m in PUBLIC_MEMBERS), (path, key, value)
    text = path.read_text(encoding="utf-8")
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert not re.search(r'"(allUsers|allAuthenticatedUsers)"', code), path


def test_http_functions_skip_the_invoker_check_and_ingest_keeps_it() -> None:
    """Behind the load balancer the API key authenticates: the HTTP functions turn Cloud Run's
    invoker IAM check off instead of granting allUsers; ingest is invoked by the push identity
    only."""
    assert attr(service(), "invoker_iam_disabled") == ref("var.public")
    call = function_call()
    assert expr(attr(call, "public")) == expr(ref('each.value.kind == "http"'))
    invokers = expr(attr(call, "invoker_members"))
    assert invokers.startswith('${each.value.kind=="http"?{}:')
    assert "google_service_account.ingest_push.member" in invokers
    grant = FUNCTION_MODULE["resource"]["google_cloud_run_v2_service_iam_member.invoker"]
    assert attr(grant, "for_each") == ref("var.invoker_members")
    assert attr(grant, "role") == "roles/run.invoker"
    kinds = {name: fn["kind"] for name, fn in functions().items()}
    assert kinds == {name: deployable.kind for name, deployable in DEPLOYABLES.items()}


# --- the event path: data bucket -> ingest ---------------------------------------------------


def test_uploads_under_incoming_are_notified_as_the_cloudevents_ingest_takes() -> None:
    """A file written, or deleted (its live generation archived, in the versioned bucket), under
    incoming/: the notification's custom attributes are the CloudEvent's (test_delivery.py
    posts what they make to ingest)."""
    from functions.ingestion import DELETED, FINALIZED

    notification = ROOT["resource"]["google_storage_notification.uploads"]
    assert attr(notification, "for_each") == ref("local.upload_events")
    assert attr(notification, "bucket") == ref("google_storage_bucket.data.name")
    assert attr(notification, "topic") == ref("google_pubsub_topic.uploads.id")
    assert attr(notification, "event_types") == ref("each.value.event_types")
    assert attr(notification, "object_name_prefix") == "incoming/"
    assert attr(notification, "payload_format") == "JSON_API_V1"
    attributes = attr(notification, "custom_attributes")
    assert attributes["ce-type"] == ref("each.value.type")
    assert attributes["ce-specversion"] == "1.0"
    assert attributes["ce-id"], "functions-framework refuses a binary CloudEvent without an id"
    assert attributes["ce-source"] == ref("local.upload_source")
    assert ref("google_storage_bucket.data.name") in ROOT["locals"]["upload_source"]
    events = ROOT["locals"]["upload_events"]
    assert events["finalized"] == {"event_types": ["OBJECT_FINALIZE"], "type": FINALIZED}
    assert events["deleted"] == {
        "event_types": ["OBJECT_ARCHIVE", "OBJECT_DELETE"],
        "type": DELETED,
    }


def ingest_subscription() -> dict:
    return ROOT["resource"]["google_pubsub_subscription.ingest"]


def test_the_ingest_subscription_pushes_each_upload_to_ingest_as_its_own_identity() -> None:
    subscription = ingest_subscription()
    assert attr(subscription, "topic") == ref("google_pubsub_topic.uploads.id")
    push = blocks(subscription, "push_config")[0]
    assert attr(push, "push_endpoint") == ref('module.function["ingest"].uri')
    token = blocks(push, "oidc_token")[0]
    assert attr(token, "service_account_email") == ref("google_service_account.ingest_push.email")
    assert attr(token, "audience") == ref('module.function["ingest"].uri')
    # The body is the object resource and the attributes are headers: a binary CloudEvent.
    assert attr(blocks(push, "no_wrapper")[0], "write_metadata") is True
    signer = ROOT["resource"]["google_service_account_iam_member.pubsub_agent_signs_for_push"]
    assert attr(signer, "service_account_id") == ref("google_service_account.ingest_push.name")
    assert attr(signer, "role") == "roles/iam.serviceAccountTokenCreator"
    assert attr(signer, "member") == ref("local.pubsub_agent")


def test_storage_may_publish_to_the_uploads_topic_only() -> None:
    publisher = ROOT["resource"]["google_pubsub_topic_iam_member.storage_agent_publisher"]
    assert attr(publisher, "topic") == ref("google_pubsub_topic.uploads.name")
    assert attr(publisher, "role") == "roles/pubsub.publisher"
    assert attr(publisher, "member") == ref(
        "data.google_storage_project_service_account.this.member"
    )
    project_roles = {
        attr(body, "role")
        for key, body in ROOT["resource"].items()
        if key.startswith("google_project_iam_member.")
    }
    assert "roles/pubsub.publisher" not in project_roles


def test_the_event_path_has_no_subscription_terraform_does_not_manage() -> None:
    """An Eventarc trigger would make, and own, the subscription that delivers the events; no
    Terraform resource could give it a dead-letter topic."""
    for path in TF_FILES:
        for key, _ in walk(parse(path)):
            assert not str(key).startswith("google_eventarc_"), path
            assert not str(key).startswith("google_cloudfunctions"), path
    assert "eventarc.googleapis.com" not in ROOT["locals"]["services"]


def test_a_dead_delivery_loses_its_file_within_a_minute() -> None:
    """A delivery renews its lease while it works (functions/ingestion.py), so the lease only
    bounds how long a delivery that died blocks its file: short, unlike the function's timeout,
    which must stay inside the subscription's acknowledgement deadline."""
    locals_ = ROOT["locals"]
    timeout = locals_["ingest_timeout_seconds"]
    assert isinstance(timeout, int) and timeout <= 540, "inside the 600 s acknowledgement deadline"
    assert functions()["ingest"]["timeout"] == ref("local.ingest_timeout_seconds")
    assert isinstance(locals_["ingest_lease_seconds"], int)
    assert 10 <= locals_["ingest_lease_seconds"] <= 60
    lease = locals_["environment"]["DIAMONDS_INGEST_LEASE_SECONDS"]
    assert lease == ref("tostring(local.ingest_lease_seconds)")
    assert "DIAMONDS_INGEST_LEASE_SECONDS" in listed_names(functions()["ingest"]["env"])


def subscriptions() -> dict[str, dict]:
    return {
        key: body
        for key, body in ROOT["resource"].items()
        if key.startswith("google_pubsub_subscription.")
    }


def test_every_subscription_has_a_dead_letter_policy_or_is_a_dead_letter_queue() -> None:
    """A subscription that pushes retries with a backoff and dead-letters what keeps failing;
    the only one without a policy is where dead letters are kept (nothing delivers from it)."""
    dead_letter_topics = set()
    for key, body in subscriptions().items():
        if policy := blocks(body, "dead_letter_policy"):
            dead_letter_topics.add(attr(policy[0], "dead_letter_topic"))
            assert blocks(body, "retry_policy"), key
    for key, body in subscriptions().items():
        if not blocks(body, "dead_letter_policy"):
            assert not blocks(body, "push_config"), key
            assert attr(body, "topic") in dead_letter_topics, f"{key} has no dead-letter policy"
    assert len(dead_letter_topics) >= 1


def test_an_event_that_keeps_failing_is_dead_lettered_and_kept() -> None:
    """Retries back off from 10 s to 600 s; after 100 attempts (some 15 hours) the event goes to
    the dead-letter topic, whose subscription keeps it 7 days, and an alert says so."""
    resources = ROOT["resource"]
    subscription = ingest_subscription()
    retry = blocks(subscription, "retry_policy")[0]
    assert (attr(retry, "minimum_backoff"), attr(retry, "maximum_backoff")) == ("10s", "600s")
    policy = blocks(subscription, "dead_letter_policy")[0]
    assert attr(policy, "dead_letter_topic") == ref("google_pubsub_topic.ingest_dead_letter.id")
    assert attr(policy, "max_delivery_attempts") == ref("local.ingest_max_delivery_attempts")
    assert 5 <= ROOT["locals"]["ingest_max_delivery_attempts"] <= 100
    assert attr(subscription, "message_retention_duration") == "604800s"
    # Not redelivered while ingest may still be handling it.
    assert attr(subscription, "ack_deadline_seconds") >= ROOT["locals"]["ingest_timeout_seconds"]

    kept = resources["google_pubsub_subscription.ingest_dead_letter"]
    assert attr(kept, "topic") == ref("google_pubsub_topic.ingest_dead_letter.id")
    assert attr(kept, "message_retention_duration") == "604800s"
    assert attr(blocks(kept, "expiration_policy")[0], "ttl") == ""
    # The Pub/Sub agent moves the message: it publishes to the topic and acknowledges it on the
    # subscription it leaves.
    publisher = resources["google_pubsub_topic_iam_member.dead_letter_publisher"]
    assert attr(publisher, "role") == "roles/pubsub.publisher"
    assert attr(publisher, "member") == ref("local.pubsub_agent")
    subscriber = resources["google_pubsub_subscription_iam_member.dead_letter_subscriber"]
    assert attr(subscriber, "subscription") == ref("google_pubsub_subscription.ingest.name")
    assert attr(subscriber, "role") == "roles/pubsub.subscriber"
    assert attr(subscriber, "member") == ref("local.pubsub_agent")
    monitoring = ROOT["module"]["monitoring"]
    assert attr(monitoring, "dead_letter_subscription") == ref(
        "google_pubsub_subscription.ingest_dead_letter.name"
    )
    assert not any("dead_letter_commands" in name for name in ROOT["output"])


def test_the_pubsub_agent_is_made_by_terraform_not_spelled_out() -> None:
    agent = ROOT["resource"]["google_project_service_identity.pubsub"]
    assert attr(agent, "service") == "pubsub.googleapis.com"
    assert attr(agent, "provider") == ref("google-beta")
    assert ROOT["locals"]["pubsub_agent"] == ref("google_project_service_identity.pubsub.member")
    for path in TF_FILES:
        assert "gcp-sa-pubsub" not in path.read_text(encoding="utf-8"), path


def test_launchers_may_write_run_records_and_the_training_schedule() -> None:
    grants = ROOT["locals"]["bucket_grants"]
    for launcher in ("retrain", "ingest"):
        grant = grants[f"{launcher}_runs_write"]
        assert grant["bucket"] == ref("google_storage_bucket.models.name")
        assert grant["prefixes"] == ref("local.run_records")
    assert ROOT["locals"]["run_records"] == ["runs/", "schedule.json"]


# --- the front door -------------------------------------------------------------------------


def test_front_door_routes_every_path_to_its_function() -> None:
    routes = ROOT["locals"]["routes"]
    expected = {
        "/v1/diamonds": "inventory",
        "/v1/diamonds/*": "inventory",
        "/v1/price": "pricing",
        "/v1/openapi.json": "pricing",
        "/v1/docs": "pricing",
        "/healthz": "pricing",
        "/v1/models": "models",
        "/v1/models/*": "models",
        "/v1/runs/*": "models",
        "/v1/ingestions": "models",
        "/v1/retrain": "retrain",
    }
    for path, target in expected.items():
        assert routes.get(path) == target, path
    assert set(routes.values()) <= HTTP_ENTRY_POINTS
    call = ROOT["module"]["front_door"]
    assert attr(call, "routes") == ref("local.routes")
    assert attr(call, "default_backend") == "pricing"
    assert 'kind=="http"' in expr(attr(call, "backends")), "ingest must not be behind the LB"


def test_plain_http_is_redirected_to_https_and_reaches_no_backend() -> None:
    resources = FRONT_DOOR_MODULE["resource"]
    rule = resources["google_compute_global_forwarding_rule.http"]
    assert attr(rule, "port_range") == "80"
    assert attr(rule, "ip_address") == ref("google_compute_global_address.this.id")
    proxy = resources["google_compute_target_http_proxy.https_redirect"]
    assert attr(rule, "target") == ref("google_compute_target_http_proxy.https_redirect.id")
    assert attr(proxy, "url_map") == ref("google_compute_url_map.https_redirect.id")
    url_map = resources["google_compute_url_map.https_redirect"]
    assert attr(blocks(url_map, "default_url_redirect")[0], "https_redirect") is True
    assert "default_service" not in url_map and not blocks(url_map, "path_matcher")


def test_a_new_domain_gets_a_certificate_of_another_name() -> None:
    """create_before_destroy makes the new certificate first: with a fixed name it would
    collide with the one it replaces."""
    certificate = FRONT_DOOR_MODULE["resource"]["google_compute_managed_ssl_certificate.this"]
    assert attr(blocks(certificate, "lifecycle")[0], "create_before_destroy") is True
    assert "local.domain" in attr(certificate, "name")


def test_front_door_uses_serverless_negs_cloud_armor_and_tls() -> None:
    resources = FRONT_DOOR_MODULE["resource"]
    neg = resources["google_compute_region_network_endpoint_group.this"]
    assert attr(neg, "network_endpoint_type") == "SERVERLESS"
    assert attr(blocks(neg, "cloud_run")[0], "service") == ref("each.value")
    assert not blocks(neg, "cloud_function"), "the cloud_function type is for 1st gen functions"
    backend = resources["google_compute_backend_service.this"]
    assert attr(backend, "security_policy") == ref("google_compute_security_policy.this.id")
    assert attr(backend, "load_balancing_scheme") == "EXTERNAL_MANAGED"
    proxy = resources["google_compute_target_https_proxy.this"]
    assert attr(proxy, "ssl_policy") == ref("google_compute_ssl_policy.this.id")
    assert attr(resources["google_compute_ssl_policy.this"], "min_tls_version") == "TLS_1_2"
    rule = resources["google_compute_global_forwarding_rule.https"]
    assert attr(rule, "port_range") == "443"
    url_map = resources["google_compute_url_map.this"]
    path_rule = dynamic(blocks(url_map, "path_matcher")[0], "path_rule")
    assert "var.routes" in attr(path_rule, "for_each")


# --- database -------------------------------------------------------------------------------


def test_cloud_sql_has_no_public_ip_and_is_protected() -> None:
    instance = DATABASE_MODULE["resource"]["google_sql_database_instance.this"]
    assert attr(instance, "deletion_protection") is True
    settings = blocks(instance, "settings")[0]
    assert attr(settings, "deletion_protection_enabled") is True
    ip = blocks(settings, "ip_configuration")[0]
    assert attr(ip, "ipv4_enabled") is False
    assert attr(ip, "private_network") == ref("var.network_id")
    assert attr(ip, "ssl_mode") == "ENCRYPTED_ONLY"
    assert not blocks(ip, "authorized_networks")
    backup = blocks(settings, "backup_configuration")[0]
    assert attr(backup, "enabled") is True
    assert attr(backup, "point_in_time_recovery_enabled") is True
    assert attr(ROOT["module"]["database"], "network_id") == ref("module.network.network_id")


@pytest.mark.parametrize("role", ["owner", "app"])
def test_database_urls_are_secrets_using_the_private_ip(role: str) -> None:
    url = DATABASE_MODULE["locals"]["urls"][role]
    assert url.startswith("postgresql+psycopg://") and url.endswith("@${local.address}")
    address = DATABASE_MODULE["locals"]["address"]
    assert "private_ip_address" in address
    assert "sslmode=require" in address


# --- storage --------------------------------------------------------------------------------


@pytest.mark.parametrize("bucket", ["data", "models", "vertex_staging", "function_source"])
def test_buckets_are_private_versioned_and_expire_objects(bucket: str) -> None:
    body = ROOT["resource"][f"google_storage_bucket.{bucket}"]
    assert attr(body, "uniform_bucket_level_access") is True
    assert attr(body, "public_access_prevention") == "enforced"
    assert attr(blocks(body, "versioning")[0], "enabled") is True
    assert blocks(body, "lifecycle_rule")


def test_data_bucket_lifecycle_follows_the_storage_layout() -> None:
    rules = blocks(ROOT["resource"]["google_storage_bucket.data"], "lifecycle_rule")
    prefixes = {
        prefix
        for rule in rules
        for prefix in attr(blocks(rule, "condition")[0], "matches_prefix", [])
    }
    assert {"snapshots/", "quarantine/"} <= prefixes
    assert attr(ROOT["resource"]["google_storage_bucket.models"], "force_destroy") is False
    assert attr(ROOT["resource"]["google_storage_bucket.data"], "force_destroy") is False


def test_a_release_is_a_commit_built_once_and_labelled_on_every_function() -> None:
    """Nothing is zipped at plan time from a working tree: the functions run the image that
    infra/release built from the release's commit (its tag), pinned by digest, and every
    service and revision carries the commit as a label."""
    for path in TF_FILES:
        parsed = parse(path)
        assert not any(k == "archive_file" for k, _ in walk(parsed.get("data", []))), path
        assert "fileset(" not in path.read_text(encoding="utf-8"), path
    image = ROOT["data"]["google_artifact_registry_docker_image.functions"]
    assert attr(image, "image_name") == "functions:" + ref("var.release")
    assert attr(image, "repository_id") == ref(
        "google_artifact_registry_repository.functions.repository_id"
    )
    assert ROOT["locals"]["functions_image"] == ref(
        "data.google_artifact_registry_docker_image.functions.self_link"
    )
    repository = ROOT["resource"]["google_artifact_registry_repository.functions"]
    assert attr(blocks(repository, "docker_config")[0], "immutable_tags") is True
    assert attr(function_call(), "revision") == ref("var.release")
    for labelled in (service(), blocks(service(), "template")[0]):
        labels = expr(attr(labelled, "labels"))
        assert labels.startswith("${merge(var.labels,") and "var.revision" in labels, labels
    release = (INFRA / "release" / "release.sh").read_text(encoding="utf-8")
    for step in ("source.py", "functions:$commit", "function-source/$commit.zip", "builds submit"):
        assert step in release, step


# --- identities -----------------------------------------------------------------------------


def test_no_service_account_holds_a_primitive_role() -> None:
    roles = []
    for path in TF_FILES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"roles/(owner|editor|viewer)\b", text), path
        roles += [
            value for key, value in walk(parse(path)) if key == "role" and isinstance(value, str)
        ]
        roles += [
            v
            for key, value in walk(parse(path))
            if key == "role" and isinstance(value, list)
            for v in value
        ]
    assert roles, "no IAM bindings found"
    assert not set(roles) & PRIMITIVE_ROLES
    for grant in ROOT["locals"]["bucket_grants"].values():
        assert grant["role"].startswith("roles/storage.object"), grant


def test_one_service_account_per_function_and_one_for_training() -> None:
    accounts = ROOT["resource"]
    per_function = accounts["google_service_account.function"]
    assert attr(per_function, "for_each") == ref("local.functions")
    assert "each.key" in attr(per_function, "account_id")
    assert attr(function_call(), "service_account_email") == ref(
        "google_service_account.function[each.key].email"
    )
    assert "google_service_account.trainer" in accounts


def test_only_launchers_may_act_as_the_training_account() -> None:
    resources = ROOT["resource"]
    assert expr(ROOT["locals"]["launchers"]) == expr(ref('toset(["retrain", "ingest"])'))
    acts_as = resources["google_service_account_iam_member.launcher_acts_as_trainer"]
    assert attr(acts_as, "service_account_id") == ref("google_service_account.trainer.name")
    assert attr(acts_as, "role") == "roles/iam.serviceAccountUser"
    project_roles = [
        attr(body, "role")
        for key, body in resources.items()
        if key.startswith("google_project_iam_member.")
    ]
    assert "roles/iam.serviceAccountUser" not in project_roles


def test_launchers_may_only_create_read_and_cancel_custom_jobs() -> None:
    """No project-wide aiplatform.user (models, endpoints, datasets...): a custom role with
    the three permissions the runner uses."""
    for path in TF_FILES:
        assert "roles/aiplatform." not in path.read_text(encoding="utf-8"), path
    resources = ROOT["resource"]
    role = resources["google_project_iam_custom_role.training_launcher"]
    assert attr(role, "permissions") == ref("local.launcher_permissions")
    assert ROOT["locals"]["launcher_permissions"] == [
        "aiplatform.customJobs.cancel",
        "aiplatform.customJobs.create",
        "aiplatform.customJobs.get",
    ]
    grant = resources["google_project_iam_member.launcher_vertex"]
    assert attr(grant, "role") == ref("google_project_iam_custom_role.training_launcher.name")
    assert attr(grant, "for_each") == ref("local.launchers")


def test_the_launchers_do_not_write_to_the_staging_bucket() -> None:
    """The job writes its outputs there as the training account; the launcher only names it."""
    for key, grant in ROOT["locals"]["bucket_grants"].items():
        if grant["bucket"] == ref("google_storage_bucket.vertex_staging.name"):
            assert grant["member"] == ref("google_service_account.trainer.member"), key


def test_models_writes_the_champion_and_run_records_but_no_model_artifact() -> None:
    grants = {
        key: g
        for key, g in ROOT["locals"]["bucket_grants"].items()
        if expr(g["member"]).endswith('["models"]}')
    }
    writes = [g for g in grants.values() if g["role"] != "roles/storage.objectViewer"]
    [write] = writes
    assert write["bucket"] == ref("google_storage_bucket.models.name")
    assert expr(write["prefixes"]) == expr(ref('concat(["champion.json"], local.run_records)'))


def test_build_account_holds_the_roles_google_lists_for_a_custom_build_account() -> None:
    """Logs Writer, Artifact Registry Writer on the two image repositories, and read access to
    the release archives it builds from; nothing project-wide but the logs."""
    resources = ROOT["resource"]
    builder = ref("google_service_account.builder.member")
    logs = resources["google_project_iam_member.builder"]
    assert (attr(logs, "role"), attr(logs, "member")) == ("roles/logging.logWriter", builder)
    registry = resources["google_artifact_registry_repository_iam_member.builder"]
    assert attr(registry, "role") == "roles/artifactregistry.writer"
    assert set(attr(registry, "for_each")) == {"functions", "training"}
    sources = ROOT["locals"]["bucket_grants"]["builder_sources_read"]
    assert sources["bucket"] == ref("google_storage_bucket.function_source.name")
    assert (sources["role"], sources["member"]) == ("roles/storage.objectViewer", builder)
    project_members = [
        attr(body, "member")
        for key, body in resources.items()
        if key.startswith("google_project_iam_member.")
    ]
    assert project_members.count(builder) == 1


def test_pricing_only_reads_models() -> None:
    grants = [
        g
        for g in ROOT["locals"]["bucket_grants"].values()
        if expr(g["member"]).endswith('["pricing"]}')
    ]
    assert [g["role"] for g in grants] == ["roles/storage.objectViewer"]
    assert grants[0]["bucket"] == ref("google_storage_bucket.models.name")


# --- checkov skips --------------------------------------------------------------------------


def test_every_checkov_skip_is_justified_on_its_line() -> None:
    skips = []
    for path in TF_FILES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "checkov:skip" in line:
                match = re.search(r"checkov:skip=(CKV2?_[A-Z]+_\d+):(.+)", line)
                assert match, f"{path}:{number}: a skip needs an id and a reason"
                assert len(match.group(2).strip()) >= 40, f"{path}:{number}: reason too short"
                skips.append(match.group(1))
    assert skips, "expected the documented skips"


def test_the_daily_check_reaches_ingest_and_its_lines_reach_the_alerts() -> None:
    """The scheduler's event is the type ingest runs the check for, pushed to ingest by the
    push identity; the metrics read the lines the check writes."""
    from functions.ingestion import MONITORING_CHECK
    from functions.monitoring import log as check_log

    resources = ROOT["resource"]
    job = resources["google_cloud_scheduler_job.monitoring_check"]
    [target] = blocks(job, "pubsub_target")
    assert attr(target, "attributes")["ce-type"] == ref("local.monitoring_check_type")
    assert ROOT["locals"]["monitoring_check_type"] == MONITORING_CHECK
    assert attr(target, "topic_name") == ref("google_pubsub_topic.monitoring_check.id")
    subscription = resources["google_pubsub_subscription.monitoring_check"]
    [push] = blocks(subscription, "push_config")
    assert attr(push, "push_endpoint") == ref('module.function["ingest"].uri')
    [token] = blocks(push, "oidc_token")
    assert attr(token, "service_account_email") == ref("google_service_account.ingest_push.email")

    monitoring = module_config(INFRA / "modules" / "monitoring")
    check_filter = monitoring["locals"]["check_filter"].replace('\\"', '"')
    assert f'jsonPayload.logger = "{check_log.name}"' in check_filter
    metrics = {
        name: body
        for name, body in monitoring["resource"].items()
        if name.startswith("google_logging_metric.")
    }
    assert set(metrics) == {
        "google_logging_metric.drift_crossed",
        "google_logging_metric.live_mape_alert",
    }
    for name, field in (("drift_crossed", "drift.crossed"), ("live_mape_alert", "accuracy.alert")):
        assert f"jsonPayload.{field} = true" in attr(
            metrics[f"google_logging_metric.{name}"], "filter"
        )
