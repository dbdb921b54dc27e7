"""Migration 0005 creates exactly the sharing tables the models describe, on both databases,
and can be undone; deleting accounts and albums takes their shares and links with them."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from keepsake.storage.db import Database, alembic_config
from keepsake.storage.models import Base

SHARING_TABLES = {
    "album_shares",
    "share_links",
    "share_link_assets",
    "share_link_sessions",
    "partner_shares",
}


def _table_of(diff: Any) -> str | None:
    """The table an autogenerate difference is about (they come in several shapes)."""
    if isinstance(diff, list):
        return _table_of(diff[0])
    kind, *rest = diff
    for item in rest:
        table = getattr(item, "table", None)
        if table is not None and hasattr(table, "name"):
            return str(table.name)
        if hasattr(item, "name") and kind.endswith("_table"):
            return str(item.name)
    return str(rest[1]) if len(rest) > 1 and isinstance(rest[1], str) else None


def test_migration_0005_matches_the_models_and_can_be_undone(database_url: str) -> None:
    db = Database(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        db.migrate()
        assert set(inspect(db.engine).get_table_names()) >= SHARING_TABLES
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
        ours = [d for d in diffs if _table_of(d) in SHARING_TABLES]
        assert ours == []

        with db.engine.begin() as connection:
            config = alembic_config(db.url)
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        assert not SHARING_TABLES & set(inspect(db.engine).get_table_names())
        db.migrate()
        assert set(inspect(db.engine).get_table_names()) >= SHARING_TABLES
    finally:
        db.dispose()
