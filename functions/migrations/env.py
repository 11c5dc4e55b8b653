"""Alembic environment: the migrations run on the connection `migrate()` hands over (the
service's way, under its lock), or, from the `alembic` command line (alembic.ini at the
repository's root), on DIAMONDS_DATABASE_URL's database."""

from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from functions.database.tables import Base


def run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


config = context.config
if (handed := config.attributes.get("connection")) is not None:
    run(handed)
else:
    from functions.database import make_engine
    from functions.settings import ServiceSettings

    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    engine = make_engine(ServiceSettings.from_environment().database_url)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
