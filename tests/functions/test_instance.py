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


def test_a_database_it_cannot_connect_to_is_a_503_that_names_nothing(
    postgres_url: str, tmp_path: Path, caplog
) -> None:
    """Before the release's upgrade has made the functions' role (or while the server is down),
    a request that needs the database is asked to retry; the log says why, the client not."""
    import sqlalchemy as sa
    from werkzeug.test import Client
    from werkzeug.wrappers import Request

    from functions.deployables import http_function

    url = sa.make_url(postgres_url).set(username="role_not_made_yet", password=None)
    settings = ServiceSettings(
        database_url=url.render_as_string(hide_password=False), data_root=tmp_path.as_uri()
    )
    client = Client(Request.application(http_function(Instance(settings), "inventory")))
    refused = client.get("/v1/diamonds")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert "role_not_made_yet" not in refused.get_data(as_text=True)
    assert "cannot connect to the database" in caplog.text
    assert "role_not_made_yet" in caplog.text
