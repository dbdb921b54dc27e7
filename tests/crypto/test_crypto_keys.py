"""Small tests of the key hierarchy: the master key file, wrapping user keys and rotating the
master key, keyed checksums, and that no secret shows up in a repr or an error message."""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import pickle
import stat
import threading
from pathlib import Path

import pytest

from keepsake.crypto.errors import (
    DecryptionError,
    MasterKeyInvalidError,
    MasterKeyMissingError,
    WrongMasterKeyError,
)
from keepsake.crypto.keys import (
    MASTER_KEY_FILENAME,
    MasterKey,
    Purpose,
    create_master_key_file,
    derive_subkey,
    keyed_checksum,
    load_or_create_master_key,
    new_user_key,
    rewrap,
    unwrap,
    wrap,
    wrapped_key_id,
)


def test_first_start_creates_a_private_key_file_and_later_starts_reuse_it(tmp_path: Path) -> None:
    first = load_or_create_master_key(tmp_path, None, None, encrypted_data_exists=False)
    path = tmp_path / MASTER_KEY_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_master_key(tmp_path, None, None, encrypted_data_exists=True)
    assert again == first
    assert again.key_id == first.key_id
    assert [p.name for p in tmp_path.iterdir()] == [MASTER_KEY_FILENAME], "no temporary left"


def test_key_file_is_created_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_master_key(tmp_path / "data", None, None, encrypted_data_exists=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "data" / MASTER_KEY_FILENAME).stat().st_mode) == 0o600


def test_refuses_to_start_when_the_key_is_missing_but_encrypted_data_exists(
    tmp_path: Path,
) -> None:
    with pytest.raises(MasterKeyMissingError, match="encrypted data exists"):
        load_or_create_master_key(tmp_path, None, None, encrypted_data_exists=True)
    assert not (tmp_path / MASTER_KEY_FILENAME).exists(), "must not create a useless new key"


def test_refuses_a_key_file_other_users_can_read(tmp_path: Path) -> None:
    load_or_create_master_key(tmp_path, None, None, encrypted_data_exists=False)
    (tmp_path / MASTER_KEY_FILENAME).chmod(0o644)
    with pytest.raises(MasterKeyInvalidError, match="chmod 600"):
        load_or_create_master_key(tmp_path, None, None, encrypted_data_exists=True)


def test_create_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    first = create_master_key_file(path)
    with pytest.raises(FileExistsError):
        create_master_key_file(path)
    assert load_or_create_master_key(tmp_path, None, None, False) == first


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[MasterKey] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_or_create_master_key(tmp_path, None, None, False))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8
    assert len({k.key_id for k in keys}) == 1


def test_key_from_the_environment_wins_over_the_data_dir(tmp_path: Path) -> None:
    secret = os.urandom(32)
    key = load_or_create_master_key(tmp_path, base64.b64encode(secret).decode(), None, True)
    assert key == MasterKey(secret)
    assert not (tmp_path / MASTER_KEY_FILENAME).exists()
    urlsafe = base64.urlsafe_b64encode(secret).decode()
    assert load_or_create_master_key(tmp_path, f" {urlsafe}\n", None, True) == key


def test_key_from_a_secret_file_raw_or_base64(tmp_path: Path) -> None:
    secret = os.urandom(32)
    raw, text = tmp_path / "raw", tmp_path / "text"
    raw.write_bytes(secret)
    text.write_text(base64.b64encode(secret).decode() + "\n")
    raw.chmod(0o444)  # as Docker secrets often are: the check applies to master.key only
    assert load_or_create_master_key(tmp_path, None, raw, True) == MasterKey(secret)
    assert load_or_create_master_key(tmp_path, None, text, True) == MasterKey(secret)
    with pytest.raises(MasterKeyMissingError):
        load_or_create_master_key(tmp_path, None, tmp_path / "absent", False)


def test_malformed_or_ambiguous_key_configuration_is_refused_without_echoing_it(
    tmp_path: Path,
) -> None:
    almost = base64.b64encode(os.urandom(32)).decode()[:-2]
    with pytest.raises(MasterKeyInvalidError) as err:
        load_or_create_master_key(tmp_path, almost, None, False)
    assert almost not in str(err.value)
    assert almost[:12] not in str(err.value)
    short = tmp_path / "short"
    short.write_text(base64.b64encode(os.urandom(16)).decode())
    with pytest.raises(MasterKeyInvalidError):
        load_or_create_master_key(tmp_path, None, short, False)
    with pytest.raises(MasterKeyInvalidError, match="only one"):
        load_or_create_master_key(tmp_path, almost, short, False)


def test_master_key_never_shows_its_secret() -> None:
    secret = os.urandom(32)
    key = MasterKey(secret)
    shown = repr(key) + str(key)
    assert key.key_id in shown
    for form in (secret.hex(), base64.b64encode(secret).decode(), repr(secret)):
        assert form not in shown
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_key_id_is_short_stable_and_not_a_plain_hash_of_the_key() -> None:
    secret = os.urandom(32)
    key = MasterKey(secret)
    assert len(key.key_id) == 16
    assert key.key_id == MasterKey(secret).key_id
    assert key.key_id != MasterKey(os.urandom(32)).key_id
    assert key.key_id not in hashlib.sha256(secret).hexdigest()


def test_wrap_unwrap_round_trip_and_each_wrap_differs() -> None:
    master, user_key = MasterKey.generate(), new_user_key()
    one, two = wrap(master, user_key, "user-1"), wrap(master, user_key, "user-1")
    assert one != two
    assert unwrap(master, one, "user-1") == user_key == unwrap(master, two, "user-1")
    assert wrapped_key_id(one) == master.key_id
    assert one.startswith(f"ks1:{master.key_id}:")
    assert user_key.hex() not in one


def test_wrapped_key_cannot_be_moved_to_another_user() -> None:
    master = MasterKey.generate()
    wrapped = wrap(master, new_user_key(), "alice")
    with pytest.raises(DecryptionError):
        unwrap(master, wrapped, "bob")


def test_wrapped_key_under_another_master_is_named_not_guessed() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    wrapped = wrap(old, new_user_key(), "alice")
    with pytest.raises(WrongMasterKeyError, match=old.key_id):
        unwrap(new, wrapped, "alice")


def test_relabelled_or_altered_wrapped_key_is_refused() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    wrapped = wrap(old, new_user_key(), "alice")
    relabelled = wrapped.replace(old.key_id, new.key_id)
    with pytest.raises(DecryptionError):
        unwrap(new, relabelled, "alice")
    body_at = len(f"ks1:{old.key_id}:")
    flipped = wrapped[:body_at] + ("A" if wrapped[body_at] != "A" else "B") + wrapped[body_at + 1 :]
    for bad in (flipped, wrapped[:-4], "garbage", wrapped + "AAAA"):
        with pytest.raises(DecryptionError):
            unwrap(old, bad, "alice")


def test_rotation_rewraps_to_the_new_master_and_is_idempotent() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    users = {f"user-{i}": new_user_key() for i in range(3)}
    wrapped = {uid: wrap(old, key, uid) for uid, key in users.items()}
    rotated = {uid: rewrap(old, new, w, uid) for uid, w in wrapped.items()}
    for uid, key in users.items():
        assert wrapped_key_id(rotated[uid]) == new.key_id
        assert unwrap(new, rotated[uid], uid) == key
        with pytest.raises(WrongMasterKeyError):
            unwrap(old, rotated[uid], uid)
        # Re-running an interrupted rotation leaves rotated rows alone.
        assert rewrap(old, new, rotated[uid], uid) == rotated[uid]
    with pytest.raises(WrongMasterKeyError):
        rewrap(MasterKey.generate(), new, wrap(old, new_user_key(), "x"), "x")


def test_keyed_checksum_is_stable_per_user_and_differs_between_users() -> None:
    digest = hashlib.sha256(b"a well-known photo").hexdigest()
    alice, bob = new_user_key(), new_user_key()
    mine = keyed_checksum(alice, digest)
    assert len(mine) == 64
    assert int(mine, 16) >= 0
    assert keyed_checksum(alice, digest) == mine
    assert keyed_checksum(alice, digest.upper()) == mine
    assert keyed_checksum(bob, digest) != mine
    assert mine != digest
    assert keyed_checksum(alice, hashlib.sha256(b"another").hexdigest()) != mine
    with pytest.raises(ValueError):
        keyed_checksum(alice, "not a digest")


def test_subkeys_differ_per_purpose_and_from_the_user_key() -> None:
    user_key = new_user_key()
    subkeys = {purpose: derive_subkey(user_key, purpose) for purpose in Purpose}
    assert len(set(subkeys.values()) | {user_key}) == len(Purpose) + 1
    assert all(len(k) == 32 for k in subkeys.values())
    with pytest.raises(ValueError):
        derive_subkey(b"short", Purpose.BLOBS)


def test_a_symlink_in_place_of_the_key_file_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.key"
    create_master_key_file(elsewhere)
    data = tmp_path / "data"
    data.mkdir()
    (data / MASTER_KEY_FILENAME).symlink_to(elsewhere)
    with pytest.raises(MasterKeyInvalidError):
        load_or_create_master_key(data, None, None, encrypted_data_exists=True)
    # An operator's secret file may be a symlink (Kubernetes mounts secrets that way).
    assert load_or_create_master_key(data, None, data / MASTER_KEY_FILENAME, True)


def test_key_file_is_created_where_hard_links_are_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    key = load_or_create_master_key(tmp_path, None, None, encrypted_data_exists=False)
    path = tmp_path / MASTER_KEY_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [MASTER_KEY_FILENAME]
    assert load_or_create_master_key(tmp_path, None, None, encrypted_data_exists=True) == key
