"""The key hierarchy in a running installation: the master key file, refusing to start without
the right key, per-user keys wrapped on the user row, rotation (including interrupted ones)
and crypto-shredding when an account is deleted."""

from __future__ import annotations

import base64
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from keepsake.app import Container, build_container, create_app
from keepsake.cli.main import app as cli
from keepsake.crypto import keys as crypto_keys
from keepsake.crypto import service as key_service
from keepsake.crypto.errors import (
    DecryptionError,
    MasterKeyMissingError,
    UserKeyMissingError,
    WrongMasterKeyError,
)
from keepsake.crypto.keys import MasterKey, read_master_key_file, wrapped_key_id
from keepsake.crypto.streaming import MAGIC
from keepsake.storage.models import AuditEvent, User
from tests.conftest import make_settings
from tests.helpers import Account, jpeg_bytes, new_account, upload

runner = CliRunner()


@contextmanager
def running(data_dir: Path, database_url: str, **overrides: Any) -> Iterator[Container]:
    container = build_container(make_settings(data_dir, database_url, **overrides))
    try:
        yield container
    finally:
        container.close()


def wrapped_keys(container: Container) -> dict[str, str]:
    with container.db.read() as s:
        return {u.id: u.wrapped_key or "" for u in s.query(User)}


def download(container: Container, account: Account, asset_id: str) -> bytes:
    with TestClient(create_app(container, start_jobs=False)) as client:
        r = client.get(f"/api/assets/{asset_id}/original", headers=account.headers)
        assert r.status_code == 200, r.text
        return r.content


@pytest.fixture
def library(tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    """An installation with two users and a photo each, then stopped."""
    data_dir = tmp_path / "data"
    with (
        running(data_dir, database_url) as container,
        TestClient(create_app(container, start_jobs=False)) as client,
    ):
        alice = new_account(client, "alice@example.org")
        bob = new_account(client, "bob@example.org", admin_headers=alice.headers)
        photos = {a.email: jpeg_bytes(seed=i) for i, a in enumerate((alice, bob))}
        ids = {
            a.email: upload(client, a, photos[a.email]).json()["asset"]["id"] for a in (alice, bob)
        }
    yield {
        "data_dir": data_dir,
        "url": database_url,
        "alice": alice,
        "bob": bob,
        "photos": photos,
        "ids": ids,
    }


def test_master_key_file_is_created_private_and_user_keys_are_wrapped_by_it(
    library: dict[str, Any],
) -> None:
    key_file = library["data_dir"] / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    master = read_master_key_file(key_file)
    with running(library["data_dir"], library["url"]) as container:
        wrapped = wrapped_keys(container)
        assert len(wrapped) == 2
        assert {wrapped_key_id(w) for w in wrapped.values()} == {master.key_id}
        alice = library["alice"]
        key = container.keys.user_key(alice.id)
        assert key == container.keys.user_key(alice.id)  # cached, same key
        assert key != container.keys.user_key(library["bob"].id)
        original = container.blobs.keys(f"originals/{alice.id}/")
        stored = container.keys.encrypted_blobs
        assert stored is not None
        raw = b"".join(stored.inner.read(next(original)))
        assert raw.startswith(MAGIC)


def test_refuses_to_start_when_the_key_file_is_gone_but_encrypted_data_exists(
    library: dict[str, Any],
) -> None:
    (library["data_dir"] / "master.key").unlink()
    with pytest.raises(MasterKeyMissingError, match="encrypted data exists"):
        build_container(make_settings(library["data_dir"], library["url"]))
    assert not (library["data_dir"] / "master.key").exists()  # no new key was made


def test_refuses_a_master_key_that_did_not_wrap_this_database(library: dict[str, Any]) -> None:
    other = MasterKey.generate().to_base64()
    with pytest.raises(WrongMasterKeyError, match="wrapped by master key"):
        build_container(make_settings(library["data_dir"], library["url"], master_key=other))


def test_master_key_from_the_environment_is_used_and_never_shown(
    tmp_path: Path, database_url: str
) -> None:
    key = MasterKey.generate()
    with running(tmp_path / "env", database_url, master_key=key.to_base64()) as container:
        assert container.keys.keyring.primary == key
        assert key.to_base64() not in repr(container.settings)
        assert key.to_base64() not in str(container.settings.model_dump())
    assert not (tmp_path / "env" / "master.key").exists()


def test_master_key_from_a_file_on_another_volume(tmp_path: Path, database_url: str) -> None:
    key = MasterKey.generate()
    secret = tmp_path / "secrets" / "keepsake.key"
    secret.parent.mkdir()
    secret.write_text(key.to_base64())
    secret.chmod(0o440)  # as secret mounts often are: operator files may be group-readable
    with running(tmp_path / "data", database_url, master_key_file=secret) as container:
        assert container.keys.keyring.primary == key
    assert not (tmp_path / "data" / "master.key").exists()


def test_rotation_rewraps_every_user_key_and_blobs_still_decrypt(
    library: dict[str, Any],
) -> None:
    data_dir, url = library["data_dir"], library["url"]
    old = read_master_key_file(data_dir / "master.key")
    env = {"KEEPSAKE_DATA_DIR": str(data_dir), "KEEPSAKE_DATABASE_URL": url}
    result = runner.invoke(cli, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 user keys re-wrapped" in result.output
    new = read_master_key_file(data_dir / "master.key")
    assert new != old
    assert sorted(p.name for p in data_dir.iterdir() if "master" in p.name) == ["master.key"]
    with running(data_dir, url) as container:
        assert {wrapped_key_id(w) for w in wrapped_keys(container).values()} == {new.key_id}
        for account in (library["alice"], library["bob"]):
            data = download(container, account, library["ids"][account.email])
            assert data == library["photos"][account.email]
        with container.db.read() as s:
            events = [e.event for e in s.query(AuditEvent)]
        assert "master_key.rotated" in events
    # The old key alone opens nothing any more.
    with pytest.raises(WrongMasterKeyError):
        build_container(make_settings(data_dir, url, master_key=old.to_base64()))


def test_rotation_interrupted_before_its_commit_is_resumed_with_the_same_new_key(
    library: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, url = library["data_dir"], library["url"]
    old = read_master_key_file(data_dir / "master.key")
    calls = 0
    real_rewrap = key_service.rewrap

    def crash_on_second(*args: Any) -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("power cut")
        return real_rewrap(*args)

    with running(data_dir, url) as container:
        monkeypatch.setattr(key_service, "rewrap", crash_on_second)
        with pytest.raises(OSError, match="power cut"):
            container.keys.rotate()
        monkeypatch.setattr(key_service, "rewrap", real_rewrap)
    pending = read_master_key_file(data_dir / "master.key.new")
    with running(data_dir, url) as container:
        # Nothing was committed: the old key still wraps everything, and the server works.
        assert {wrapped_key_id(w) for w in wrapped_keys(container).values()} == {old.key_id}
        alice = library["alice"]
        assert download(container, alice, library["ids"][alice.email])
        rotation = container.keys.rotate()
    assert rotation.new_key_id == pending.key_id
    assert read_master_key_file(data_dir / "master.key") == pending
    assert not (data_dir / "master.key.new").exists()


def test_rotation_interrupted_after_the_key_file_swap_is_undone_then_redone(
    library: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, url = library["data_dir"], library["url"]
    old = read_master_key_file(data_dir / "master.key")

    def crash(_path: Path) -> None:
        raise OSError("power cut right after the rename")

    with running(data_dir, url) as container:
        monkeypatch.setattr(key_service, "_fsync_dir", crash)
        with pytest.raises(OSError, match="power cut"):
            container.keys.rotate()
        monkeypatch.undo()
    # The file already holds the new key, but the transaction rolled back: the old key is
    # beside it as .old, and a restart uses it.
    assert read_master_key_file(data_dir / "master.key") != old
    assert read_master_key_file(data_dir / "master.key.old") == old
    with running(data_dir, url) as container:
        bob = library["bob"]
        assert download(container, bob, library["ids"][bob.email]) == library["photos"][bob.email]
        rotation = container.keys.rotate()
    assert rotation.old_key_id == old.key_id
    final = read_master_key_file(data_dir / "master.key")
    assert final.key_id == rotation.new_key_id
    assert not (data_dir / "master.key.old").exists()
    with running(data_dir, url) as container:
        assert {wrapped_key_id(w) for w in wrapped_keys(container).values()} == {final.key_id}


def test_a_running_server_follows_a_rotation_made_beside_it(library: dict[str, Any]) -> None:
    data_dir, url = library["data_dir"], library["url"]
    env = {"KEEPSAKE_DATA_DIR": str(data_dir), "KEEPSAKE_DATABASE_URL": url}
    with running(data_dir, url) as server:
        with TestClient(create_app(server, start_jobs=False)) as client:
            result = runner.invoke(cli, ["keys", "rotate"], env=env)
            assert result.exit_code == 0, result.output
            bob = library["bob"]  # whose key this server has not unwrapped yet
            r = client.get(f"/api/assets/{library['ids'][bob.email]}/original", headers=bob.headers)
            assert r.content == library["photos"][bob.email]
            carol = new_account(client, "carol@example.org", admin_headers=library["alice"].headers)
            assert upload(client, carol, jpeg_bytes(seed=77)).status_code == 201
        new = read_master_key_file(data_dir / "master.key")
        assert wrapped_key_id(wrapped_keys(server)[carol.id]) == new.key_id


def test_rotation_with_the_key_in_the_environment_writes_the_new_key_to_a_file(
    tmp_path: Path, database_url: str
) -> None:
    old = MasterKey.generate()
    data_dir = tmp_path / "data"
    with running(data_dir, database_url, master_key=old.to_base64()) as container:
        with TestClient(create_app(container, start_jobs=False)) as client:
            alice = new_account(client, "alice@example.org")
            data = jpeg_bytes()
            asset_id = upload(client, alice, data).json()["asset"]["id"]
        with pytest.raises(Exception, match="--new-key-file"):
            container.keys.rotate()
        target = tmp_path / "new.key"
        container.keys.rotate(target)
    new = read_master_key_file(target)
    with pytest.raises(WrongMasterKeyError):
        build_container(make_settings(data_dir, database_url, master_key=old.to_base64()))
    with running(data_dir, database_url, master_key=new.to_base64()) as container:
        assert download(container, alice, asset_id) == data


def test_deleting_an_account_destroys_its_key_so_restored_files_stay_unreadable(
    library: dict[str, Any],
) -> None:
    data_dir, url = library["data_dir"], library["url"]
    bob = library["bob"]
    saved = data_dir.parent / "stolen-backup"
    shutil.copytree(data_dir / "blobs", saved)
    with running(data_dir, url) as container:
        old_wrapped = wrapped_keys(container)[bob.id]
        with TestClient(create_app(container, start_jobs=False)) as client:
            r = client.delete(f"/api/admin/users/{bob.id}", headers=library["alice"].headers)
            assert r.status_code == 204, r.text
        assert list(container.blobs.keys(f"originals/{bob.id}/")) == []
        with pytest.raises(UserKeyMissingError):
            container.keys.user_key(bob.id)
    # Put Bob's files back, as an old backup would: with the master key and the database,
    # nothing decrypts them, and his wrapped key is nowhere in the database files.
    shutil.rmtree(data_dir / "blobs")
    shutil.copytree(saved, data_dir / "blobs")
    with running(data_dir, url) as container:
        store = container.keys.encrypted_blobs
        assert store is not None
        key = f"originals/{bob.id}/{library['ids'][bob.email]}"
        with pytest.raises(UserKeyMissingError):
            b"".join(store.read(key))
        # Even someone who guessed a key cannot read it: it is authenticated encryption.
        wrong = crypto_keys.new_user_key()
        from keepsake.crypto.blobs import EncryptedBlobStore

        with pytest.raises(DecryptionError):
            b"".join(EncryptedBlobStore(store.inner, lambda _owner: wrong).read(key))
        alice = library["alice"]
        assert download(container, alice, library["ids"][alice.email])
    if url.startswith("sqlite"):
        database = b"".join(p.read_bytes() for p in data_dir.parent.glob("keepsake.db*"))
        assert old_wrapped.encode() not in database
        assert old_wrapped.split(":")[2][:40].encode() not in database
        body = base64.urlsafe_b64decode(old_wrapped.split(":")[2] + "==")
        assert body[12:28] not in database
