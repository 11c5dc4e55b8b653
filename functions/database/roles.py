"""The application's database role: the functions connect as a role that reads and writes rows
but changes no schema. The release's upgrade, connected as the tables' owner, creates it if
needed, sets its password and grants it its rights, on PostgreSQL.

Cloud SQL makes every user created through its API a member of `cloudsqlsuperuser` (which may
create databases and roles, and owns the database), so this role is created in SQL instead.
Its password reaches the server as a SCRAM verifier only: DDL statements are logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import sqlalchemy as sa

SCRAM_ITERATIONS = 4096
ROW_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_RIGHTS = "USAGE, SELECT"
SCHEMA_VERSION_TABLE = "alembic_version"
"""Read by the functions to check the schema; written by the upgrade only."""


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5803), made client-side."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    b64 = [base64.b64encode(part).decode() for part in (salt, stored_key, server_key)]
    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64[0]}${b64[1]}:{b64[2]}"


def grant_application_role(connection: sa.Connection, app_url: str) -> str:
    """Make `app_url`'s user a role with rights on rows only, on the tables and sequences of
    the connection's schema, now and for those the connected owner creates later. Idempotent.
    Returns the role's name."""
    if connection.dialect.name != "postgresql":
        raise ValueError("an application role needs PostgreSQL (SQLite has no roles)")
    url = sa.make_url(app_url)
    name = url.username
    if not name:
        raise ValueError("the application's database URL names no user")
    owner = connection.execute(sa.text("SELECT current_user")).scalar_one()
    if name == owner:
        raise ValueError(f"the application role {name!r} is the tables' owner: give another")
    found = connection.execute(
        sa.text("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = :n"),
        {"n": name},
    ).first()
    if found is not None and found[0]:
        raise ValueError(f"the application role {name!r} may create roles or databases")
    quote = connection.dialect.identifier_preparer.quote
    role = quote(name)
    statements = [] if found is not None else [f"CREATE ROLE {role} LOGIN"]
    if url.password:
        statements.append(f"ALTER ROLE {role} PASSWORD '{scram_verifier(url.password)}'")
    schema = quote(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
    later = f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
    statements += [
        f"GRANT {ROW_RIGHTS} ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"REVOKE INSERT, UPDATE, DELETE ON {schema}.{SCHEMA_VERSION_TABLE} FROM {role}",
        f"GRANT {SEQUENCE_RIGHTS} ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        f"{later} GRANT {ROW_RIGHTS} ON TABLES TO {role}",
        f"{later} GRANT {SEQUENCE_RIGHTS} ON SEQUENCES TO {role}",
    ]
    for statement in statements:
        connection.exec_driver_sql(statement)
    return name
