"""Migrations 0004 and 0007 go up, down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from keepsake.app import Container
from keepsake.storage.db import Database, alembic_config
from tests.helpers import Account

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


def test_migration_0007_drops_the_face_flag_and_its_downgrade_restores_it_from_consent(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    client.put("/api/consent/face_recognition", json={"version": 1}, headers=alice.headers)

    def migrate(target: str, up: bool) -> set[str]:
        with container.db.engine.begin() as connection:
            config = alembic_config(container.db.url)
            config.attributes["connection"] = connection
            (command.upgrade if up else command.downgrade)(config, target)
        return {c["name"] for c in inspect(container.db.engine).get_columns("users")}

    assert "face_recognition_enabled" not in migrate("0007", True)
    assert "face_recognition_enabled" in migrate("0006", False)
    with container.db.read() as s:
        flags = dict(
            s.connection().exec_driver_sql("SELECT id, face_recognition_enabled FROM users").all()
        )
    assert flags == {alice.id: True, bob.id: False}, "on exactly where consent is in force"
    assert "face_recognition_enabled" not in migrate("head", True)
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200
    assert container.consent.allows(alice.id, "face_recognition"), "no row was lost"
