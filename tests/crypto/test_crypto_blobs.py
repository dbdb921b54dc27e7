"""Medium tests of `EncryptedBlobStore` over real files in tmp_path (and over the in-memory
store), the legacy-plaintext migration helper, and sealed small values (face templates)."""

from __future__ import annotations

import hashlib
import io
import secrets
import struct
from pathlib import Path

import pytest

from keepsake.crypto.blobs import EncryptedBlobStore, decrypt_bytes, encrypt_bytes
from keepsake.crypto.errors import DecryptionError, NotEncryptedError, UnsupportedFormatError
from keepsake.crypto.keys import Purpose, new_user_key
from keepsake.crypto.streaming import PREFIX_SIZE
from keepsake.storage.blobs import BlobStore, LocalBlobStore, MemoryBlobStore, blob_key

SEGMENT = 4096
EXIF_MODEL = b"Keepsake Test Camera Model X-1000"


def fake_jpeg(size: int) -> bytes:
    """Something shaped like a JPEG: SOI, an APP1 Exif segment with a camera model, filler."""
    head = b"\xff\xd8\xff\xe1" + struct.pack(">H", 8 + len(EXIF_MODEL)) + b"Exif\x00\x00"
    head += EXIF_MODEL
    return head + secrets.token_bytes(max(0, size - len(head) - 2)) + b"\xff\xd9"


class Keys:
    """The lead's key lookup in miniature: owner id -> data key, or KeyError once deleted."""

    def __init__(self) -> None:
        self.by_owner: dict[str, bytes] = {}

    def __call__(self, owner: str) -> bytes:
        return self.by_owner.setdefault(owner, new_user_key())


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def store(local: LocalBlobStore, keys: Keys) -> EncryptedBlobStore:
    return EncryptedBlobStore(local, keys, segment_size=SEGMENT)


def read_all(store: BlobStore, key: str, start: int = 0, stop: int | None = None) -> bytes:
    return b"".join(store.read(key, start, stop))


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 57, SEGMENT - 56, SEGMENT - 55, 3 * SEGMENT + 5])
def test_put_then_read_gives_back_the_same_bytes(store: EncryptedBlobStore, size: int) -> None:
    data = secrets.token_bytes(size)
    key = blob_key("originals", "u1", f"{size}.bin")
    assert store.put(key, io.BytesIO(data)) == size
    assert store.size(key) == size
    assert hashlib.sha256(read_all(store, key)).digest() == hashlib.sha256(data).digest()
    assert store.exists(key)


def test_range_reads_match_the_plaintext(store: EncryptedBlobStore) -> None:
    data = secrets.token_bytes(5 * SEGMENT)
    key = blob_key("originals", "u1", "a.jpg")
    store.put(key, io.BytesIO(data))
    for start, stop in [(0, 1), (0, SEGMENT), (SEGMENT - 100, SEGMENT + 100), (1234, None)]:
        assert read_all(store, key, start, stop) == data[start:stop]
    assert read_all(store, key, len(data) - 1, len(data) + 50) == data[-1:]
    assert read_all(store, key, len(data) + 10) == b""


def test_encrypted_blob_on_disk_reveals_none_of_the_photo(
    store: EncryptedBlobStore, local: LocalBlobStore
) -> None:
    photo = fake_jpeg(50_000)
    key = blob_key("originals", "u1", "holiday.jpg")
    store.put(key, io.BytesIO(photo))
    on_disk = (local.root / key).read_bytes()
    assert b"\xff\xd8\xff\xe1" not in on_disk
    assert b"Exif\x00\x00" not in on_disk
    assert EXIF_MODEL not in on_disk
    assert EXIF_MODEL[:12] not in on_disk
    # Nor any 16-byte run of the plaintext anywhere.
    runs = {photo[i : i + 16] for i in range(0, len(photo) - 16, 16)}
    assert not any(on_disk[i : i + 16] in runs for i in range(len(on_disk) - 16))
    assert read_all(store, key) == photo


def test_swapping_two_blobs_on_disk_is_detected(
    store: EncryptedBlobStore, local: LocalBlobStore
) -> None:
    one, two = blob_key("originals", "u1", "one.jpg"), blob_key("originals", "u1", "two.jpg")
    store.put(one, io.BytesIO(fake_jpeg(9000)))
    store.put(two, io.BytesIO(fake_jpeg(9000)))
    path_one, path_two = local.root / one, local.root / two
    a, b = path_one.read_bytes(), path_two.read_bytes()
    path_one.write_bytes(b)
    path_two.write_bytes(a)
    for key in (one, two):
        with pytest.raises(DecryptionError):
            read_all(store, key)


def test_copying_a_blob_to_another_owner_is_detected(
    store: EncryptedBlobStore, local: LocalBlobStore, keys: Keys
) -> None:
    """Even if both owners had the same key, the blob key is bound into the ciphertext."""
    keys.by_owner["u2"] = keys("u1")
    mine, theirs = blob_key("originals", "u1", "x.jpg"), blob_key("originals", "u2", "x.jpg")
    store.put(mine, io.BytesIO(b"private"))
    (local.root / theirs).parent.mkdir(parents=True)
    (local.root / theirs).write_bytes((local.root / mine).read_bytes())
    with pytest.raises(DecryptionError):
        read_all(store, theirs)


def test_tampering_with_any_byte_on_disk_is_detected(
    store: EncryptedBlobStore, local: LocalBlobStore
) -> None:
    key = blob_key("thumbnails", "u1", "t.webp")
    store.put(key, io.BytesIO(secrets.token_bytes(2 * SEGMENT)))
    path = local.root / key
    original = path.read_bytes()
    for position in [
        0,
        5,
        6,
        7,
        8,
        20,
        47,
        48,
        100,
        SEGMENT,
        len(original) - 17,
        len(original) - 1,
    ]:
        tampered = bytearray(original)
        tampered[position] ^= 0x40
        path.write_bytes(bytes(tampered))
        with pytest.raises(DecryptionError):
            read_all(store, key)


def test_cutting_off_the_last_segment_on_disk_is_detected(
    store: EncryptedBlobStore, local: LocalBlobStore
) -> None:
    key = blob_key("originals", "u1", "long.jpg")
    store.put(key, io.BytesIO(secrets.token_bytes(3 * SEGMENT)))
    path = local.root / key
    stored = path.read_bytes()
    path.write_bytes(stored[: PREFIX_SIZE + 2 * SEGMENT])
    with pytest.raises(DecryptionError):
        read_all(store, key)


def test_another_users_key_cannot_read_the_blob(local: LocalBlobStore, keys: Keys) -> None:
    key = blob_key("originals", "u1", "a.jpg")
    EncryptedBlobStore(local, keys, segment_size=SEGMENT).put(key, io.BytesIO(b"mine"))
    wrong = EncryptedBlobStore(local, lambda owner: new_user_key(), segment_size=SEGMENT)
    with pytest.raises(DecryptionError):
        read_all(wrong, key)


def test_deleting_the_users_key_makes_blobs_unreadable(
    store: EncryptedBlobStore, keys: Keys
) -> None:
    key = blob_key("originals", "u1", "a.jpg")
    store.put(key, io.BytesIO(b"mine"))
    keys.by_owner["u1"] = new_user_key()  # the old key is gone: crypto-shredded
    with pytest.raises(DecryptionError):
        read_all(store, key)


def test_keys_pass_through_unchanged(store: EncryptedBlobStore, local: LocalBlobStore) -> None:
    names = [blob_key("originals", "u1", "a.jpg"), blob_key("thumbnails", "u2", "b.webp")]
    for name in names:
        store.put(name, io.BytesIO(b"x"))
    assert list(store.keys()) == list(local.keys()) == sorted(names)
    assert list(store.keys("thumbnails/")) == [names[1]]
    store.delete(names[0])
    store.delete(names[0])
    assert not store.exists(names[0])


def test_works_over_the_in_memory_store(keys: Keys) -> None:
    inner = MemoryBlobStore()
    store = EncryptedBlobStore(inner, keys, segment_size=SEGMENT)
    data = fake_jpeg(3 * SEGMENT)
    key = blob_key("originals", "u1", "m.jpg")
    assert store.put(key, io.BytesIO(data)) == len(data)
    assert read_all(store, key) == data
    assert read_all(store, key, 10, 20) == data[10:20]
    assert store.size(key) == len(data)
    assert inner.size(key) > len(data)


def test_blob_written_with_another_segment_size_still_reads(local: LocalBlobStore) -> None:
    keys = Keys()
    key = blob_key("originals", "u1", "old.jpg")
    data = secrets.token_bytes(10_000)
    EncryptedBlobStore(local, keys, segment_size=1024).put(key, io.BytesIO(data))
    later = EncryptedBlobStore(local, keys)  # default 1 MiB segments
    assert later.size(key) == len(data)
    assert read_all(later, key, 3000, 7000) == data[3000:7000]


def test_legacy_plaintext_is_refused_unless_allowed_and_can_be_migrated(
    local: LocalBlobStore, keys: Keys
) -> None:
    key = blob_key("originals", "u1", "legacy.jpg")
    photo = fake_jpeg(3 * SEGMENT)
    local.put(key, io.BytesIO(photo))
    strict = EncryptedBlobStore(local, keys, segment_size=SEGMENT)
    with pytest.raises(NotEncryptedError):
        read_all(strict, key)
    with pytest.raises(NotEncryptedError):
        strict.size(key)

    migrating = EncryptedBlobStore(local, keys, segment_size=SEGMENT, allow_legacy_plaintext=True)
    assert not migrating.is_encrypted(key)
    assert read_all(migrating, key, 2, 10) == photo[2:10]
    assert migrating.size(key) == len(photo)
    assert migrating.encrypt_legacy(key) is True
    assert migrating.encrypt_legacy(key) is False
    assert migrating.is_encrypted(key)
    assert EXIF_MODEL not in (local.root / key).read_bytes()
    assert read_all(strict, key) == photo
    assert strict.size(key) == len(photo)


def test_empty_legacy_blob_is_not_mistaken_for_an_encrypted_one(
    local: LocalBlobStore, keys: Keys
) -> None:
    key = blob_key("originals", "u1", "empty")
    local.put(key, io.BytesIO(b""))
    store = EncryptedBlobStore(local, keys, allow_legacy_plaintext=True)
    assert read_all(store, key) == b""
    assert store.encrypt_legacy(key) is True
    assert read_all(store, key) == b""
    assert local.size(key) > 0


def face_template() -> bytes:
    return struct.pack("<128f", *[i / 128 for i in range(128)])


def test_sealed_template_round_trips_and_is_bound_to_its_face() -> None:
    user_key, template = new_user_key(), face_template()
    sealed = encrypt_bytes(user_key, template, b"face:42")
    assert len(sealed) == len(template) + 1 + 12 + 16
    assert decrypt_bytes(user_key, sealed, b"face:42") == template
    assert sealed != encrypt_bytes(user_key, template, b"face:42"), "a fresh nonce each time"
    assert template[:16] not in sealed
    with pytest.raises(DecryptionError):
        decrypt_bytes(user_key, sealed, b"face:43")
    with pytest.raises(DecryptionError):
        decrypt_bytes(new_user_key(), sealed, b"face:42")
    with pytest.raises(DecryptionError):
        decrypt_bytes(user_key, sealed, b"face:42", Purpose.BLOBS)
    for position in range(0, len(sealed), 37):
        tampered = bytearray(sealed)
        tampered[position] ^= 1
        with pytest.raises(DecryptionError):
            decrypt_bytes(user_key, bytes(tampered), b"face:42")
    with pytest.raises(DecryptionError):
        decrypt_bytes(user_key, sealed[:20], b"face:42")


def test_sealed_value_with_unknown_version_is_refused() -> None:
    user_key = new_user_key()
    sealed = bytearray(encrypt_bytes(user_key, b"x", b"face:1"))
    sealed[0] = 9
    with pytest.raises(UnsupportedFormatError):
        decrypt_bytes(user_key, bytes(sealed), b"face:1")


def test_invalid_segment_size_is_refused_at_construction(local: LocalBlobStore) -> None:
    with pytest.raises(ValueError):
        EncryptedBlobStore(local, Keys(), segment_size=1000)


def test_large_blobs_read_exactly_whole_and_in_ranges(tmp_path: Path) -> None:
    """1 MiB segments over the local store's 1 MiB reads: the aligned path, no reassembly."""
    keys = Keys()
    store = EncryptedBlobStore(LocalBlobStore(tmp_path / "big"), keys)
    data = secrets.token_bytes(3 * 1024 * 1024 + 123_457)
    key = blob_key("originals", "owner", "large")
    store.put(key, io.BytesIO(data))
    assert hashlib.sha256(read_all(store, key)).digest() == hashlib.sha256(data).digest()
    assert read_all(store, key, 1_000_001, 3_000_003) == data[1_000_001:3_000_003]
    assert read_all(store, key, 1024 * 1024 - 56, 1024 * 1024 - 40) == data[1048520:1048536]
    assert store.size(key) == len(data)
