"""Engines for SQLite and PostgreSQL, the schema migrations, and the write locks."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Engine, event

from functions.http.problems import Unavailable

MIGRATIONS = Path(__file__).parents[1] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_POOL_SIZE = 5
_MIGRATION_LOCK_KEY = 0x6469616D  # any constant shared by all instances: "diam"
_SQLITE_BEGIN = "diamonds_sqlite_begin"
WRITE_LOCKED = {_SQLITE_BEGIN: "BEGIN IMMEDIATE"}
"""Execution options for a transaction that takes SQLite's write lock at BEGIN."""
_ALEMBIC = threading.Lock()
"""Alembic keeps its migration context in module globals: one upgrade at a time per process."""


def json_text(document: Any) -> str:
    """JSON columns via orjson: a logged 10,000-stone request serialises in milliseconds."""
    return orjson.dumps(document).decode()


def make_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL (`postgresql://` means psycopg 3)."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        engine = sa.create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=2 * POSTGRES_POOL_SIZE,
            pool_recycle=1800,
            json_serializer=json_text,
        )
        event.listen(engine, "handle_error", _unreachable)
        return engine
    raise ValueError(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")


def create_database(url: str) -> None:
    """Create the PostgreSQL database `url` names if it does not exist yet (a SQLite file is
    created on first use)."""
    engine = make_engine(url)
    if engine.dialect.name != "postgresql":
        return
    name = engine.url.database
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if found is None:
                quoted = connection.dialect.identifier_preparer.quote(name)
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()
        engine.dispose()


def _sqlite_engine(url: sa.URL) -> Engine:
    """SQLite with WAL and real transactions.

    Python's sqlite3 module does not BEGIN before a SELECT or DDL statement; SQLAlchemy's
    documented recipe switches that off and emits BEGIN itself, so reads are consistent and a
    migration is atomic. A connection can ask for BEGIN IMMEDIATE (take the write lock first).
    """
    if url.database in (None, "", ":memory:"):
        raise ValueError(
            "in-memory SQLite is not supported (each connection is a new, empty "
            "database): use a file, sqlite:///path/to/diamonds.db"
        )
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_serializer=json_text,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))

    return engine


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database in WAL mode (a no-op once it is), waiting as long as the busy timeout.

    The busy timeout (set when the connection opens, before any statement) makes a connection
    wait for a lock, but not here: the switch reads the database header, then asks for the write
    lock to rewrite it, and SQLite fails a connection that holds a read lock and wants the write
    lock at once with "database is locked", as waiting could deadlock. Two processes opening a
    new database at once meet exactly that. The caller is meant to let go of its read lock (the
    failed statement did) and try again, which this does.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(0.005)


def lock(connection: sa.Connection, key: int) -> None:
    """Hold PostgreSQL's transaction-scoped advisory lock `key` until the transaction ends.

    On SQLite a transaction begun with WRITE_LOCKED already holds the database's only write
    lock, so there is nothing more to take.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


class DatabaseUnreachable(Unavailable):
    """No connection could be made: the server is down, or the role the functions connect as
    is not yet what the release's upgrade makes it."""


def _unreachable(context: sa.engine.ExceptionContext) -> Exception | None:
    """A failure to connect (there is no connection yet) becomes DatabaseUnreachable: a 503
    asking to retry for a client, a retry for an event; a failing statement stays as it is."""
    if context.connection is not None or context.is_pre_ping:
        return None
    first_line = str(context.original_exception).strip().splitlines()[:1]
    return DatabaseUnreachable(f"cannot connect to the database: {' '.join(first_line)}")


class SchemaNotReady(Unavailable):
    """The database's schema is not the one this code was written for: a release must run
    `diamonds db upgrade` before its functions serve."""


def migrate(engine_or_url: Engine | str, app_url: str | None = None) -> tuple[str | None, str]:
    """Bring the database schema to the latest migration; a no-op when it is there already, or
    at a later release's revision (an earlier release deployed again). With `app_url`, then
    make its user the application role (functions.database.roles), in the same transaction.
    Returns the revisions before and after.

    Safe from several processes and threads at once: on PostgreSQL an advisory lock serialises
    the upgrade, on SQLite its transaction takes the write lock before it looks at the schema.
    """
    from alembic import command

    from functions.database.roles import grant_application_role

    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with _ALEMBIC, engine.connect() as connection:
            connection.execution_options(**WRITE_LOCKED)
            with connection.begin():
                lock(connection, _MIGRATION_LOCK_KEY)
                before = _revision(connection)
                if not _later(connection, before):
                    command.upgrade(_config(connection), "head")
                if app_url:
                    grant_application_role(connection, app_url)
                return before, _revision(connection) or ""
    finally:
        if engine is not engine_or_url:
            engine.dispose()


def check_schema(engine: Engine) -> None:
    """SchemaNotReady unless the database is at the latest migration this code knows, or at
    one it does not know: a later release's, whose migrations keep this code working (the
    release runs them before its functions serve)."""
    with engine.connect() as connection:
        current, head = _revision(connection), _head(connection)
        if current == head or _later(connection, current):
            return
    raise SchemaNotReady(
        f"the database schema is at revision {current or 'none'}, this release needs "
        f"{head}: run `diamonds db upgrade` (DIAMONDS_DATABASE_URL naming the database)"
    )


def _head(connection: sa.Connection) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(connection)).get_current_head()


def _later(connection: sa.Connection, revision: str | None) -> bool:
    """Whether `revision` is one no migration of this code made (a later release's)."""
    from alembic.script import ScriptDirectory

    if revision is None:
        return False
    script = ScriptDirectory.from_config(_config(connection))
    return revision not in {known.revision for known in script.walk_revisions()}


def _config(connection: sa.Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _revision(connection: sa.Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
