"""Migration 0003 on both databases: it creates exactly what the models declare, and goes
down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from keepsake.storage.db import Database, alembic_config
from keepsake.storage.models import Base

FACE_TABLES = {"people", "faces", "face_rejections", "face_indexes"}


def test_migration_0003_matches_the_models_and_goes_down_and_up(database_url: str) -> None:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    db = Database(url)
    try:
        db.migrate()
        assert set(inspect(db.engine).get_table_names()) >= FACE_TABLES
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        ours = [d for d in diff if FACE_TABLES & set(_tables(d))]
        assert ours == []
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("faces")}
        assert {
            "ix_faces_owner_person",
            "ix_faces_person_taken",
            "ix_faces_asset_person",
        } <= indexes

        with db.engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        assert not FACE_TABLES & set(inspect(db.engine).get_table_names())
        db.migrate()
        assert set(inspect(db.engine).get_table_names()) >= FACE_TABLES
    finally:
        db.dispose()


def _tables(diff: object) -> list[str]:
    """Table names a compare_metadata entry mentions (entries are tuples or lists of them)."""
    found: list[str] = []
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item if isinstance(item, tuple) else (item,):
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None):
                found.append(table.name)
            elif isinstance(name, str):
                found.append(name)
    return found
