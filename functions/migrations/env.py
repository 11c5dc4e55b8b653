"""Alembic environment: runs the migrations on the connection that `migrate()` hands over.

There is no alembic.ini: functions.database.migrate builds the configuration in code.
"""

from alembic import context

from functions.database.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with functions.database.migrate()")

context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
