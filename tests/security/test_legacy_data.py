"""Data from before encryption: a library stored with encryption at rest off, then turned on
(the background job and `keepsake keys migrate` encrypt it), and rows written by the library
core before migration 0002 (sealed and keyed at the next start). Migration 0002 runs both
ways on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, create_engine, insert, inspect, select
from typer.testing import CliRunner

from keepsake.app import Container, build_container, create_app
from keepsake.auth.passwords import hash_password
from keepsake.cli.main import app as cli
from keepsake.crypto.errors import EncryptionStateError, NotEncryptedError
from keepsake.crypto.streaming import MAGIC
from keepsake.storage.blobs import LocalBlobStore
from keepsake.storage.db import alembic_config
from keepsake.storage.models import Asset
from tests.conftest import make_settings
from tests.helpers import Account, jpeg_bytes, new_account, upload

runner = CliRunner()


@contextmanager
def running(data_dir: Path, url: str, **overrides: Any) -> Iterator[Container]:
    container = build_container(make_settings(data_dir, url, **overrides))
    try:
        yield container
    finally:
        container.close()


def stored_bytes(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "blobs"
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".tmp" not in p.parts
    }


def plaintext_library(data_dir: Path, url: str) -> tuple[Account, dict[str, bytes]]:
    """Two photos stored with encryption at rest off, thumbnails and previews made."""
    with (
        running(data_dir, url, encryption_at_rest=False) as container,
        TestClient(create_app(container, start_jobs=False)) as client,
    ):
        alice = new_account(client, "alice@example.org")
        photos = {}
        for seed in (1, 2):
            data = jpeg_bytes(seed=seed)
            photos[upload(client, alice, data).json()["asset"]["id"]] = data
    assert all(not b.startswith(MAGIC) for b in stored_bytes(data_dir).values())
    return alice, photos


def test_turning_encryption_on_encrypts_old_blobs_in_the_background(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    alice, photos = plaintext_library(data_dir, database_url)
    with running(data_dir, database_url) as container:
        assert container.keys.legacy_blobs_pending()
        # Starting the app enqueues the migration job (run at once in tests).
        with TestClient(create_app(container)) as client:
            for asset_id, data in photos.items():
                r = client.get(f"/api/assets/{asset_id}/original", headers=alice.headers)
                assert r.content == data
                thumb = client.get(f"/api/assets/{asset_id}/thumbnail", headers=alice.headers)
                assert thumb.status_code == 200 and thumb.content.startswith(b"RIFF")
        assert not container.keys.legacy_blobs_pending()
    stored = stored_bytes(data_dir)
    assert len(stored) == 6  # originals, thumbnails, previews
    assert all(b.startswith(MAGIC) for b in stored.values())


def test_keys_migrate_encrypts_old_blobs_and_then_plaintext_is_refused(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    alice, photos = plaintext_library(data_dir, database_url)
    with (
        running(data_dir, database_url) as container,
        TestClient(create_app(container, start_jobs=False)) as client,
    ):
        # Old blobs are served as they are; new ones are encrypted from the start.
        for asset_id, data in photos.items():
            r = client.get(f"/api/assets/{asset_id}/original", headers=alice.headers)
            assert r.content == data
        new = jpeg_bytes(seed=9)
        new_id = upload(client, alice, new).json()["asset"]["id"]
        assert stored_bytes(data_dir)[f"originals/{alice.id}/{new_id}"].startswith(MAGIC)

    env = {"KEEPSAKE_DATA_DIR": str(data_dir), "KEEPSAKE_DATABASE_URL": database_url}
    result = runner.invoke(cli, ["keys", "migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert "6 blobs encrypted, 3 were already" in result.output
    assert all(b.startswith(MAGIC) for b in stored_bytes(data_dir).values())
    again = runner.invoke(cli, ["keys", "migrate"], env=env)
    assert "0 blobs encrypted, 9 were already" in again.output

    with running(data_dir, database_url) as container:
        assert not container.keys.legacy_blobs_pending()
        with TestClient(create_app(container, start_jobs=False)) as client:
            for asset_id, data in {**photos, new_id: new}.items():
                r = client.get(
                    f"/api/assets/{asset_id}/original",
                    headers={**alice.headers, "Range": "bytes=100-"},
                )
                assert r.status_code == 206 and r.content == data[100:]
        # A plaintext file planted where a blob was is no longer taken for one.
        some = next(iter(photos))
        planted = data_dir / "blobs" / "originals" / alice.id / some
        planted.write_bytes(photos[some])
        with pytest.raises(NotEncryptedError):
            b"".join(container.blobs.read(f"originals/{alice.id}/{some}"))

    with pytest.raises(EncryptionStateError, match="turn it back on"):
        build_container(make_settings(data_dir, database_url, encryption_at_rest=False))


def _sa(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_library_core_rows_are_sealed_and_keyed_at_the_next_start(
    tmp_path: Path, database_url: str
) -> None:
    """A database and blobs as the library core (migration 0001) left them."""
    data_dir = tmp_path / "data"
    data = jpeg_bytes(seed=42)
    sha = hashlib.sha256(data).hexdigest()
    engine = create_engine(_sa(database_url))
    with engine.begin() as conn:
        config = alembic_config(_sa(database_url))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    tables = MetaData()
    tables.reflect(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    user_id, asset_id, upload_id = "u-1", "a-1", "up-1"
    with engine.begin() as conn:
        conn.execute(
            insert(tables.tables["users"]).values(
                id=user_id,
                email="old@example.org",
                display_name="old",
                password_hash=hash_password("an old password"),
                is_admin=True,
                usage_bytes=len(data),
                face_recognition_enabled=False,
                created_at=now,
            )
        )
        conn.execute(
            insert(tables.tables["assets"]).values(
                id=asset_id,
                owner_id=user_id,
                checksum=sha,
                size=len(data),
                original_filename="IMG_OLD.JPG",
                mime_type="image/jpeg",
                width=640,
                height=480,
                taken_at=now,
                taken_at_source="exif",
                make="Canon",
                model="EOS R6",
                exif={"FNumber": 2.8},
                is_favorite=False,
                created_at=now,
            )
        )
        conn.execute(
            insert(tables.tables["uploads"]).values(
                id=upload_id,
                owner_id=user_id,
                length=10,
                offset=0,
                filename="half.jpg",
                declared_checksum="ab" * 32,
                created_at=now,
                expires_at=now,
            )
        )
    engine.dispose()
    LocalBlobStore(data_dir / "blobs").put(f"originals/{user_id}/{asset_id}", io.BytesIO(data))

    with running(data_dir, database_url) as container:
        with container.db.read() as s:
            row = s.get(Asset, asset_id)
            assert row is not None
            assert row.sealed is not None and row.checksum_key != sha
            assert (row.legacy_make, row.legacy_model, row.legacy_filename) == (None, None, "")
            assert row.legacy_exif is None
        with TestClient(create_app(container, start_jobs=False)) as client:
            r = client.post(
                "/api/auth/login", json={"email": "old@example.org", "password": "an old password"}
            )
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            client.cookies.clear()
            detail = client.get(f"/api/assets/{asset_id}", headers=headers).json()
            assert detail["checksum"] == sha
            assert (detail["make"], detail["model"]) == ("Canon", "EOS R6")
            assert detail["original_filename"] == "IMG_OLD.JPG"
            assert detail["exif"] == {"FNumber": 2.8}
            found = client.post("/api/assets/exists", json={"checksums": [sha]}, headers=headers)
            assert found.json() == {"existing": {sha: asset_id}}
            timeline = client.get("/api/timeline?model=EOS R6", headers=headers).json()
            assert [a["id"] for a in timeline["items"]] == [asset_id]
            original = client.get(f"/api/assets/{asset_id}/original", headers=headers)
            assert original.content == data
            again = client.post(
                "/api/assets",
                files={"file": ("again.jpg", data, "image/jpeg")},
                headers=headers,
            )
            assert again.status_code == 200 and again.json()["duplicate"] is True
        assert container.keys.encrypt_legacy_blobs().encrypted == 1
        assert b"".join(container.blobs.read(f"originals/{user_id}/{asset_id}")) == data


def test_migration_0002_runs_down_and_up_again(database_url: str) -> None:
    url = _sa(database_url)
    engine = create_engine(url)
    try:
        for target in ("head", "0001", "head"):
            with engine.begin() as conn:
                config = alembic_config(url)
                config.attributes["connection"] = conn
                if target == "0001":
                    command.downgrade(config, target)
                else:
                    command.upgrade(config, target)
            names = set(inspect(engine).get_table_names())
            columns = {c["name"] for c in inspect(engine).get_columns("assets")}
            if target == "0001":
                assert "audit_events" not in names and "sealed" not in columns
            else:
                assert {"audit_events", "login_throttle", "security_state"} <= names
                assert {"sealed", "make_tag", "model_tag"} <= columns
        indexes = {i["name"] for i in inspect(engine).get_indexes("assets")}
        assert "ix_assets_timeline" in indexes
        with engine.connect() as conn:
            assert conn.execute(select(1)).scalar() == 1
    finally:
        engine.dispose()
