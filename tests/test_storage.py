"""Storage: durable blob writes, key safety, migrations on both databases."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from keepsake.app import Container
from keepsake.storage.blobs import LocalBlobStore, MemoryBlobStore, blob_key, check_key
from keepsake.storage.db import Database, alembic_config
from keepsake.storage.models import Base
from tests.helpers import Account, jpeg_bytes, upload


@pytest.mark.parametrize("store_kind", ["local", "memory"])
def test_blob_round_trip_and_ranges(tmp_path: Path, store_kind: str) -> None:
    store = LocalBlobStore(tmp_path) if store_kind == "local" else MemoryBlobStore()
    data = bytes(range(256)) * 9000
    key = blob_key("originals", "owner", "asset")
    assert store.put(key, io.BytesIO(data)) == len(data)
    assert b"".join(store.read(key)) == data
    assert b"".join(store.read(key, 1000, 1_500_000)) == data[1000:1_500_000]
    assert store.size(key) == len(data)
    assert list(store.keys("originals/")) == [key]
    store.delete(key)
    store.delete(key)
    assert not store.exists(key)


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    class Broken(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            if self.tell() > 0:
                raise OSError("disk unplugged")
            return super().read(10)

    with pytest.raises(OSError):
        store.put("originals/o/a", Broken(b"x" * 100))
    assert not store.exists("originals/o/a")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b", "a b", "a/./b/..", ""])
def test_path_like_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        check_key(key)


def test_migrations_create_the_schema(database_url: str) -> None:
    db = Database(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        db.migrate()
        db.migrate()  # idempotent
        tables = set(inspect(db.engine).get_table_names())
        assert {
            "users",
            "assets",
            "albums",
            "album_assets",
            "uploads",
            "asset_steps",
            "sessions",
            "api_keys",
            "alembic_version",
        } <= tables
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        db.migrate()
        with db.read() as s:
            assert s.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        db.dispose()


def test_album_order_migration_numbers_photos_newest_first_and_goes_down_and_up(
    client: TestClient, alice: Account, container: Container
) -> None:
    ids = []
    for i, year in enumerate((2015, 2012, 2019, 2010)):
        r = upload(client, alice, jpeg_bytes((32, 24), seed=i, taken=f"{year}:06:01 12:00:00"))
        ids.append(r.json()["asset"]["id"])
    albums = []
    for members in (ids, ids[:2]):
        album_id = client.post("/api/albums", json={"name": "A"}, headers=alice.headers).json()[
            "id"
        ]
        client.post(f"/api/albums/{album_id}/assets", json={"ids": members}, headers=alice.headers)
        albums.append(album_id)
    db = container.db
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if "album" in repr(d)] == []

    def migrate(to: str) -> None:
        with db.engine.begin() as connection:
            config = alembic_config(db.url)
            config.attributes["connection"] = connection
            if to == "head":
                command.upgrade(config, to)
            else:
                command.downgrade(config, to)

    migrate("0007")
    assert "position" not in {c["name"] for c in inspect(db.engine).get_columns("album_assets")}
    assert "sort_order" not in {c["name"] for c in inspect(db.engine).get_columns("albums")}
    migrate("head")
    with db.engine.connect() as connection:
        places = connection.execute(
            text("SELECT album_id, asset_id FROM album_assets ORDER BY album_id, position")
        ).all()
        orders = connection.execute(text("SELECT DISTINCT sort_order FROM albums")).scalars()
        assert set(orders) == {"newest_first"}
    by_album = {a: [asset for album, asset in places if album == a] for a in albums}
    newest_first = [ids[2], ids[0], ids[1], ids[3]]  # 2019, 2015, 2012, 2010
    assert by_album[albums[0]] == newest_first
    assert by_album[albums[1]] == [ids[0], ids[1]]
    # Arranged by hand, the album starts from the order it showed before the migration.
    client.patch(f"/api/albums/{albums[0]}", json={"order": "manual"}, headers=alice.headers)
    shown = client.get(f"/api/albums/{albums[0]}", headers=alice.headers).json()["assets"]
    assert [a["id"] for a in shown] == newest_first
