"""A function instance's resources."""

from __future__ import annotations

import gc
from pathlib import Path

from functions.instance import Instance
from functions.settings import ServiceSettings


def test_what_an_instance_makes_is_frozen_out_of_full_collections(tmp_path: Path) -> None:
    instance = Instance(ServiceSettings(data_root=tmp_path.as_uri()))
    earlier = [[]]
    assert any(o is earlier for o in gc.get_objects())
    storage = instance.data
    assert not any(o is earlier for o in gc.get_objects())
    assert instance.data is storage


def test_a_function_checks_the_schema_and_leaves_migrating_to_the_release(
    tmp_path: Path,
) -> None:
    """An instance never migrates (its database role may not): on a database its release has
    not upgraded it refuses, saying what to run, and works once `diamonds db upgrade` ran."""
    import pytest
    from werkzeug.test import Client
    from werkzeug.wrappers import Request

    from functions.database import SchemaNotReady, migrate
    from functions.deployables import http_function

    url = f"sqlite:///{tmp_path / 'diamonds.db'}"
    instance = Instance(ServiceSettings(database_url=url, data_root=tmp_path.as_uri()))
    with pytest.raises(
        SchemaNotReady, match=r"at revision none, this release needs \d+: run `diamonds db upgrade`"
    ):
        instance.inventory.count()
    client = Client(Request.application(http_function(instance, "inventory")))
    refused = client.get("/v1/diamonds")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert "db upgrade" not in refused.get_data(as_text=True)
    before, after = migrate(url)
    assert before is None and after and migrate(url) == (after, after)
    assert client.get("/v1/diamonds").status_code == 200
