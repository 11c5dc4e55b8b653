"""Engines and migrations, on SQLite and on PostgreSQL (see tests/database_fixtures.py)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from functions.database import Base, IngestedFiles, Inventory, make_engine, migrate
from tests.concurrency import run_at_once
from tests.functions.database.stones import stone


def newest_revision() -> str:
    from alembic.script import ScriptDirectory

    from functions.database import MIGRATIONS

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def schema_version(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))


def test_migrate_twice_is_a_no_op_and_matches_the_models(database: sa.Engine) -> None:
    Inventory(database).create_many([stone()], "api")
    migrate(database)
    assert schema_version(database) == [newest_revision()]
    assert Inventory(database).count() == 1
    with database.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_later_releases_schema_serves_and_is_left_as_it_is(database: sa.Engine) -> None:
    """The upgrade runs before the new release's functions serve, and a release may be rolled
    back: code older than the schema serves (a later revision is one it does not know), and its
    upgrade changes nothing."""
    from functions.database import check_schema

    with database.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999_later'"))
    check_schema(database)
    assert migrate(database) == ("9999_later", "9999_later")
    assert schema_version(database) == ["9999_later"]


def test_a_database_at_the_first_revision_is_upgraded_with_its_rows(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from functions.database import MIGRATIONS

    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            sa.text(
                "INSERT INTO ingested_files (bucket, name, generation, status, received_at)"
                " VALUES ('b', 'incoming/old.csv', '1', 'done', :now)"
            ),
            {"now": datetime.now(UTC)},
        )
    migrate(engine)
    assert schema_version(engine) == [newest_revision()]
    row = IngestedFiles(engine).get("b", "incoming/old.csv", "1")
    assert row["status"] == "done" and row["attempts"] == 0 and row["inserted"] is None
    engine.dispose()


def test_stones_stored_before_files_were_tracked_belong_to_their_newest_generation(
    database_url: str,
) -> None:
    """At 0003, stones a file brought are linked to the newest generation the ledger stored, so
    that the next generation (or the file's deletion) replaces them; each gets its fingerprint."""
    from alembic import command
    from alembic.config import Config

    from functions.database import MIGRATIONS

    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        ids = [
            connection.execute(
                sa.text(
                    "INSERT INTO ingested_files (bucket, name, generation, status, received_at,"
                    " stored_at) VALUES ('b', 'incoming/a.csv', :g, 'done', :now, :now)"
                    " RETURNING id"
                ),
                {"g": generation, "now": now},
            ).scalar_one()
            for generation in ("5", "7")
        ]
        sources = (f"ingest:{ids[0]}", f"ingest:{ids[1]}", "api")
        for carat, source in zip((0.31, 0.32, 0.33), sources, strict=True):
            connection.execute(
                sa.insert(
                    sa.table(
                        "diamonds",
                        *map(sa.column, [*stone(), "source", "created_at", "updated_at"]),
                    )
                ),
                {**stone(carat), "source": source, "created_at": now, "updated_at": now},
            )
    migrate(engine)
    files = IngestedFiles(engine)
    claim = files.claim("b", "incoming/a.csv", "8", lease=60)
    row = files.store(claim, [stone(0.32), stone(0.34)])
    assert (row["inserted"], row["unchanged"], row["withdrawn"]) == (1, 1, 1)
    assert sorted(s["carat"] for s in Inventory(engine).list({}, 10)[0]) == [0.32, 0.33, 0.34]
    with pytest.raises(Exception, match="generation 8 is newer"):
        files.store(files.claim("b", "incoming/a.csv", "6", lease=60), [stone(0.35)])
    engine.dispose()


def test_the_alembic_command_line_writes_migrations_against_the_models(database_url: str) -> None:
    """`alembic check` (alembic.ini at the repository's root) finds nothing to migrate once the
    database is upgraded: the models and the migrations agree, names included."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    alembic = str(Path(sys.executable).with_name("alembic"))
    env = {**os.environ, "DIAMONDS_DATABASE_URL": database_url}
    for step in (["upgrade", "head"], ["check"]):
        done = subprocess.run(
            [alembic, "-c", str(repo / "alembic.ini"), *step],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert "No new upgrade operations detected" in done.stdout + done.stderr


def _migrate_when_all_are_ready(barrier: Any, url: str) -> None:
    barrier.wait()
    migrate(url)


def test_concurrent_migrations_all_succeed(database_url: str) -> None:
    """Several instances starting at once, each migrating the same new database."""
    processes = 3
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        barrier = manager.Barrier(processes, timeout=60)
        list(
            pool.map(_migrate_when_all_are_ready, [barrier] * processes, [database_url] * processes)
        )
    run_at_once(3, lambda _: migrate(database_url))
    engine = make_engine(database_url)
    try:
        assert schema_version(engine) == [newest_revision()]
    finally:
        engine.dispose()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'folder' / 'diamonds.db'}")
    try:
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") > 0
        assert (tmp_path / "new" / "folder" / "diamonds.db").is_file()
    finally:
        engine.dispose()


def test_the_switch_to_wal_waits_for_a_writer_on_a_new_database(tmp_path: Path) -> None:
    """Another process writes to a database not yet in WAL mode while this one opens it: the
    switch waits for the writer instead of failing with "database is locked" (what SQLite does
    at once to a connection that holds a read lock and wants the write lock)."""
    path = tmp_path / "diamonds.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.5, writer.commit)
    release.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("SELECT x FROM t").scalar() == 1
    finally:
        release.join()
        writer.close()
        engine.dispose()


def test_unsupported_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        make_engine("mysql://localhost/diamonds")
    with pytest.raises(ValueError, match="in-memory SQLite"):
        make_engine("sqlite://")
