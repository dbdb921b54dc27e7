"""Alembic environment: migrations run on the connection that `Database.migrate()` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from keepsake.storage.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # plain `alembic` command line, used to generate revisions
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
