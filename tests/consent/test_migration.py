"""Migration 0004 goes up, down and up again on SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from keepsake.storage.db import Database, alembic_config

pytestmark = pytest.mark.postgres
TABLES = {
    "consent_purposes",
    "consent_records",
    "ledger_entries",
    "ledger_heads",
    "account_activity",
    "known_devices",
    "account_deletions",
}


def test_migration_0004_upgrades_downgrades_and_upgrades_again(database_url: str) -> None:
    db = Database(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        for target, present in (("0004", True), ("0003", False), ("0004", True)):
            with db.engine.begin() as connection:
                config = alembic_config(db.url)
                config.attributes["connection"] = connection
                if present:
                    command.upgrade(config, target)
                else:
                    command.downgrade(config, target)
            tables = set(inspect(db.engine).get_table_names())
            assert TABLES & tables == TABLES if present else not TABLES & tables, target
        with db.read() as s:
            rows = s.connection().exec_driver_sql("SELECT name FROM consent_purposes").all()
        assert {r[0] for r in rows} == {
            "face_recognition",
            "people_sharing",
            "verification_enrollment",
        }
    finally:
        db.dispose()
