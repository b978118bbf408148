"""Alembic's entry point, run by ``store/migrate.py`` with a connection it already holds.

There is no ``alembic.ini``: the service migrates itself at start-up (and ``judge db upgrade`` does
it on demand), so the script location and the connection come from ``migrate.py``'s Config.
"""

from __future__ import annotations

from alembic import context

from judge_service.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata(), compare_type=True,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
