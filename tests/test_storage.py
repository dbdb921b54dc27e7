"""Storage: durable blob writes, key safety, migrations on both databases."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import inspect

from keepsake.storage.blobs import LocalBlobStore, MemoryBlobStore, blob_key, check_key
from keepsake.storage.db import Database


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
