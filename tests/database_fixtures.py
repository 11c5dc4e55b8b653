"""Pytest fixtures for the database, on SQLite and on PostgreSQL.

`database_url` is parametrised: each test that uses it runs once on a fresh SQLite file and once
on a fresh PostgreSQL database (created for the test, dropped after it). The server comes from
DIAMONDS_TEST_POSTGRES_URL or the local default; without it the PostgreSQL runs are skipped,
except on CI where they fail. `database` is an engine on that URL with the schema migrated.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import NoReturn

import pytest
import sqlalchemy as sa

from functions.database import make_engine, migrate

POSTGRES_URL = os.environ.get(
    "DIAMONDS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL unavailable on CI: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on the server's maintenance database, to create databases with."""
    try:
        engine = sa.create_engine(
            POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except (ImportError, sa.exc.OperationalError) as error:
        _unavailable(str(error).splitlines()[0])
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: sa.Engine) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = f"diamonds_test_{secrets.token_hex(6)}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'diamonds.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def database(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()
