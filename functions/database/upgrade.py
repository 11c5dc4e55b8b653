"""The release's database step: the schema to this release's, then the application role's
rights. `python -m functions.database upgrade` runs it where only the deployed code is (the
functions' image, as the release's Cloud Run job); `diamonds db upgrade` is the same step.

DIAMONDS_DATABASE_URL connects as the tables' owner; DIAMONDS_DATABASE_APP_URL, if set, is the
URL the functions connect with, whose user is made the application role.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.engine import make_url

from functions.database.engine import migrate


def upgrade(database_url: str, app_url: str = "") -> str:
    """Run the step; one line saying what it did."""
    before, after = migrate(database_url, app_url or None)
    where = make_url(database_url).render_as_string(hide_password=True)
    if before == after:
        done = f"{where}: the schema is at revision {after} already"
    else:
        done = f"{where}: the schema went from revision {before or 'none'} to {after}"
    if app_url:
        done += f"; {make_url(app_url).username} may read and write rows only"
    return done


def main(argv: list[str] | None = None) -> int:
    """0 done, 2 unusable settings, 1 any other failure: one line on stderr."""
    from pydantic import ValidationError

    from functions.settings import ServiceSettings
    from training.config import settings_problem

    parser = argparse.ArgumentParser(prog="python -m functions.database", description=__doc__)
    parser.add_argument("step", choices=["upgrade"])
    parser.parse_args(argv)
    try:
        settings = ServiceSettings.from_environment()
    except ValidationError as error:
        print(f"upgrade: {settings_problem(error)}", file=sys.stderr)
        return 2
    try:
        print(upgrade(settings.database_url, settings.database_app_url.get_secret_value()))
    except ValueError as error:
        print(f"upgrade: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        print(f"upgrade: {type(error).__name__}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0
