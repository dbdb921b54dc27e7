"""Encryption at rest for blobs and small values: `EncryptedBlobStore` wraps any `BlobStore`
and encrypts each blob under its owner's blob subkey, bound to the blob's key; `encrypt_bytes`
seals small values such as face templates under the owner's template subkey.

Small-value format: version byte 1 || nonce (12) || AES-256-GCM ciphertext || tag (16), with
associated data ``b"keepsake/v1/bytes\\x00" + version byte + caller's associated data`` (for a
face template, its face id, so a template cannot be moved to another face's row).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keepsake.crypto.errors import DecryptionError, UnsupportedFormatError
from keepsake.crypto.keys import Purpose, derive_subkey
from keepsake.crypto.streaming import (
    DEFAULT_SEGMENT_SIZE,
    HEADER_SIZE,
    PREFIX_SIZE,
    EncryptingReader,
    Layout,
    decrypt_range,
    is_encrypted,
    parse_prefix,
)
from keepsake.storage.blobs import BlobStore, owner_of

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_BYTES_VERSION = 1
_BYTES_NONCE_SIZE = 12
_BYTES_AD = b"keepsake/v1/bytes\x00"


class EncryptedBlobStore:
    """A `BlobStore` that encrypts into another one. Keys pass through unchanged; each blob is
    encrypted with a subkey of its owner's data key (owner taken from the key, see `owner_of`)
    and bound to its key, so blobs swapped or copied on disk fail to decrypt.

    `put` returns and `size` reports plaintext bytes. `size` reads the blob's first 8 bytes
    (for its segment size) besides the inner size. With `allow_legacy_plaintext`, blobs
    written before encryption was enabled are read as they are; that turns off integrity for
    any blob whose prefix is missing, so enable it only until the migration has run.
    """

    def __init__(
        self,
        inner: BlobStore,
        key_for_owner: Callable[[str], bytes],
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        allow_legacy_plaintext: bool = False,
    ) -> None:
        Layout(segment_size)  # validate now, not at the first upload
        self.inner = inner
        self._key_for_owner = key_for_owner
        self._segment_size = segment_size
        self._allow_legacy = allow_legacy_plaintext

    def _blob_key(self, key: str) -> bytes:
        return derive_subkey(self._key_for_owner(owner_of(key)), Purpose.BLOBS)

    def put(self, key: str, source: BinaryIO) -> int:
        stream = EncryptingReader(
            self._blob_key(key), source, key.encode("utf-8"), self._segment_size
        )
        self.inner.put(key, cast(BinaryIO, stream))
        return stream.plaintext_bytes

    def read(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        stored_size = self.inner.size(key)
        header = b"".join(self.inner.read(key, 0, min(HEADER_SIZE, stored_size)))
        if self._allow_legacy and not is_encrypted(header):
            yield from self.inner.read(key, start, stop)
            return
        # No read-ahead thread: AES-GCM holds the GIL, and handing chunks between threads
        # measured slower than reading and decrypting in turn (bench/crypto.py).
        yield from decrypt_range(
            self._blob_key(key),
            lambda lo, hi: self.inner.read(key, lo, hi),
            stored_size,
            key.encode("utf-8"),
            start,
            stop,
            header=header,
        )

    def size(self, key: str) -> int:
        stored_size = self.inner.size(key)
        head = b"".join(self.inner.read(key, 0, min(PREFIX_SIZE, stored_size)))
        if self._allow_legacy and not is_encrypted(head):
            return stored_size
        return parse_prefix(head).plaintext_size(stored_size)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        return self.inner.keys(prefix)

    @property
    def allows_legacy_plaintext(self) -> bool:
        return self._allow_legacy

    def refuse_legacy_plaintext(self) -> None:
        """From now on read every blob as encrypted: called once the migration has encrypted
        the last legacy blob, so a plaintext blob planted later fails instead of being served."""
        self._allow_legacy = False

    def is_encrypted(self, key: str) -> bool:
        """Whether the stored blob carries the encryption prefix (decryption still decides
        whether it is authentic)."""
        return is_encrypted(b"".join(self.inner.read(key, 0, PREFIX_SIZE)))

    def encrypt_legacy(self, key: str) -> bool:
        """Encrypt a blob stored as plaintext before encryption was enabled, in place (the
        inner store replaces it atomically). Returns False when it is already encrypted.

        The old plaintext may survive in free disk blocks, snapshots or backups; only those
        made afterwards are protected."""
        if self.is_encrypted(key):
            return False
        self.put(key, io.BufferedReader(_ChunkRaw(self.inner.read(key))))
        return True


def encrypt_bytes(
    user_key: bytes,
    plaintext: bytes,
    associated_data: bytes,
    purpose: Purpose = Purpose.TEMPLATES,
) -> bytes:
    """Seal a small value (a face template) under the user's subkey for `purpose`."""
    return seal_with(AESGCM(derive_subkey(user_key, purpose)), plaintext, associated_data)


def decrypt_bytes(
    user_key: bytes,
    sealed: bytes,
    associated_data: bytes,
    purpose: Purpose = Purpose.TEMPLATES,
) -> bytes:
    """Open a value sealed by `encrypt_bytes` with the same key, purpose and associated data;
    `DecryptionError` otherwise."""
    return open_with(AESGCM(derive_subkey(user_key, purpose)), sealed, associated_data)


def seal_with(aead: AESGCM, plaintext: bytes, associated_data: bytes) -> bytes:
    """`encrypt_bytes` with the purpose's AEAD already made (callers that seal many values
    keep one per user and purpose instead of deriving the subkey each time)."""
    version = bytes([_BYTES_VERSION])
    nonce = secrets.token_bytes(_BYTES_NONCE_SIZE)
    return version + nonce + aead.encrypt(nonce, plaintext, _BYTES_AD + version + associated_data)


def open_with(aead: AESGCM, sealed: bytes, associated_data: bytes) -> bytes:
    """`decrypt_bytes` with the purpose's AEAD already made."""
    if len(sealed) < 1 + _BYTES_NONCE_SIZE + 16:
        raise DecryptionError("sealed value is too short")
    if sealed[0] != _BYTES_VERSION:
        raise UnsupportedFormatError(f"unknown sealed value version {sealed[0]}")
    nonce = sealed[1 : 1 + _BYTES_NONCE_SIZE]
    try:
        return aead.decrypt(
            nonce, sealed[1 + _BYTES_NONCE_SIZE :], _BYTES_AD + sealed[:1] + associated_data
        )
    except InvalidTag:
        raise DecryptionError(
            "sealed value failed authentication (altered, moved, or the wrong key)"
        ) from None


class _ChunkRaw(io.RawIOBase):
    """A readable stream over an iterable of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        while not self._current:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._current = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        n = min(len(target), len(self._current))
        target[:n] = self._current[:n]
        self._current = self._current[n:]
        return n
