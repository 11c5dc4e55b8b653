"""The application role on the real PostgreSQL server: after the upgrade names it, it reads and
writes every table's rows, and changes no schema (see tests/database_fixtures.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from functions.database import (
    IngestedFiles,
    Inventory,
    PredictionLog,
    check_schema,
    make_engine,
    migrate,
)
from functions.database.roles import scram_verifier
from tests.functions.database.stones import stone
from tests.service_fixtures import KEY, start_stack, stop_stack

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def app_url(postgres_admin: sa.Engine, postgres_url: str) -> Iterator[str]:
    """A throwaway role's URL on the test's database; the role and what it holds are dropped
    after the test, before the database."""
    name = f"diamonds_app_{secrets.token_hex(4)}"
    yield (
        sa.make_url(postgres_url)
        .set(username=name, password=None)
        .render_as_string(hide_password=False)
    )
    owner = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        found = sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n")
        if connection.execute(found, {"n": name}).first():
            connection.execute(sa.text(f'DROP OWNED BY "{name}"'))
            connection.execute(sa.text(f'DROP ROLE "{name}"'))
    owner.dispose()


def refused(engine: sa.Engine, statement: str) -> None:
    with (
        pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"),
        engine.begin() as connection,
    ):
        connection.execute(sa.text(statement))


def test_the_application_role_writes_rows_and_changes_no_schema(
    postgres_url: str, app_url: str
) -> None:
    migrate(postgres_url, app_url)
    app = make_engine(app_url)
    check_schema(app)

    inventory = Inventory(app)
    [created] = inventory.create_many([stone(), stone(0.7)], "api")[:1]
    assert inventory.get(created["id"])["carat"] == 0.5
    assert inventory.patch(created["id"], {"price": 1200.0})["price"] == 1200.0
    assert inventory.delete(created["id"])
    assert inventory.count() == 1
    PredictionLog(app).write_many([{"latency_ms": 1.0, "caller": "anonymous", "status": 200}])
    ledger = IngestedFiles(app)
    claim = ledger.claim("bucket", "incoming/new.csv", 1, lease=30)
    assert claim is not None
    assert ledger.store(claim, [stone(0.9)])["inserted"] == 1

    refused(app, "CREATE TABLE elsewhere (id integer)")
    refused(app, "ALTER TABLE diamonds ADD COLUMN extra integer")
    refused(app, "DROP TABLE prediction_log")
    refused(app, "TRUNCATE diamonds")
    refused(app, "UPDATE alembic_version SET version_num = 'x'")
    app.dispose()


def test_the_functions_serve_as_the_application_role(
    postgres_url: str, app_url: str, trained_models: Path, tmp_path: Path
) -> None:
    """The functions under functions-framework, connected as the role: the inventory's writes,
    prices and their log, the ledger's reads."""
    migrate(postgres_url, app_url)
    stack = start_stack(
        tmp_path, app_url, trained_models, targets=("inventory", "pricing", "models")
    )
    try:
        created = stack.call("POST", "/v1/diamonds", key=KEY, json=stone(0.7))
        assert created.status_code == 201, created.text
        path = f"/v1/diamonds/{created.json()['id']}"
        assert stack.call("PATCH", path, key=KEY, json={"price": 2100.0}).json()["price"] == 2100.0
        priced = stack.call(
            "POST", "/v1/price", json={k: v for k, v in stone().items() if k != "price"}
        )
        assert priced.status_code == 200, priced.text
        assert stack.call("GET", "/v1/ingestions", key=KEY).status_code == 200
        assert stack.call("DELETE", path, key=KEY).status_code == 204
    finally:
        stop_stack(stack)
    owner = sa.create_engine(postgres_url)
    with owner.connect() as connection:
        logged = connection.execute(sa.text("SELECT count(*) FROM prediction_log")).scalar_one()
    owner.dispose()
    assert logged >= 1


def test_the_upgrade_creates_the_role_with_its_password_again_and_again(
    postgres_url: str, app_url: str
) -> None:
    with_password = sa.make_url(app_url).set(password="s3cret").render_as_string(False)
    name = sa.make_url(app_url).username
    for _ in range(2):
        before, after = migrate(postgres_url, with_password)
    assert before == after
    owner = sa.create_engine(postgres_url)
    with owner.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT rolpassword, rolcanlogin FROM pg_authid WHERE rolname = :n"),
            {"n": name},
        ).one()
    owner.dispose()
    assert stored.rolcanlogin and stored.rolpassword.startswith("SCRAM-SHA-256$4096:")


def test_a_role_that_owns_or_creates_is_refused(postgres_url: str, app_url: str) -> None:
    name = sa.make_url(app_url).username
    with pytest.raises(ValueError, match="is the tables' owner"):
        migrate(postgres_url, postgres_url)
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE ROLE "{name}" LOGIN CREATEDB'))
    admin.dispose()
    with pytest.raises(ValueError, match="may create roles or databases"):
        migrate(postgres_url, app_url)


def test_the_scram_verifier_answers_rfc_7677s_exchange() -> None:
    """RFC 7677's example: the verifier's keys prove the client and sign for the server."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    _, keys = scram_verifier("pencil", salt).split("$", 1)[1].split("$")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = (
        f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        f"c=biws,r={nonce}"
    )
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    signature = hmac.digest(stored_key, auth.encode(), "sha256")
    client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key
    server_signature = hmac.digest(server_key, auth.encode(), "sha256")
    expected = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert base64.b64encode(server_signature).decode() == expected


def upgrade(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m functions.database upgrade`, as the release's job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "functions.database", "upgrade"],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_release_step_as_the_job_runs_it(postgres_url: str, app_url: str) -> None:
    done = upgrade({"DIAMONDS_DATABASE_URL": postgres_url, "DIAMONDS_DATABASE_APP_URL": app_url})
    assert done.returncode == 0, done.stderr
    assert "the schema went from revision none to" in done.stdout
    assert f"{sa.make_url(app_url).username} may read and write rows only" in done.stdout
    again = upgrade({"DIAMONDS_DATABASE_URL": postgres_url, "DIAMONDS_DATABASE_APP_URL": app_url})
    assert again.returncode == 0 and "already" in again.stdout


@pytest.mark.parametrize(
    ("env", "status", "says"),
    [
        ({"DIAMONDS_DATABASE_URL": "mysql://x@y/z"}, 2, "use sqlite"),
        ({"DIAMONDS_DATABASE_APP_URL": "nonsense"}, 2, "use sqlite"),
        ({"DIAMONDS_DATABASE_APP_URL": "postgresql://app@127.0.0.1/x"}, 2, "needs PostgreSQL"),
        (
            {"DIAMONDS_DATABASE_URL": "postgresql://x:hunter2@127.0.0.1:1/z"},
            1,
            "cannot connect to the database",
        ),
    ],
)
def test_the_release_step_refuses_in_one_line(
    tmp_path: Path, env: dict[str, str], status: int, says: str
) -> None:
    done = upgrade({"DIAMONDS_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", **env})
    assert done.returncode == status
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr


def test_diamonds_db_upgrade_is_the_same_step(postgres_url: str, app_url: str) -> None:
    diamonds = Path(sys.executable).with_name("diamonds")
    env = {"PATH": "/usr/bin:/bin", "DIAMONDS_DATABASE_URL": postgres_url}
    done = subprocess.run(
        [str(diamonds), "db", "upgrade"],
        env={**env, "DIAMONDS_DATABASE_APP_URL": app_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "may read and write rows only" in done.stdout
    refused = subprocess.run(
        [str(diamonds), "db", "upgrade"],
        env={**env, "DIAMONDS_DATABASE_APP_URL": postgres_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "is the tables' owner" in refused.stderr and "Traceback" not in refused.stderr
