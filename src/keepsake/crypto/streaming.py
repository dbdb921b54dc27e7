"""Streaming authenticated encryption of blobs, with random access for range requests.

The ciphertext is Tink's AES-GCM-HKDF streaming AEAD (`AesGcmHkdfStreamingKey`: AES-256,
HKDF-SHA256, a 32-byte derived key), implemented here on the `cryptography` package's HKDF and
AES-GCM and tested against the `tink` package itself, behind an 8-byte Keepsake prefix that
says the blob is encrypted and with which segment size.

Stored blob::

    offset 0   6 bytes  magic  b"\\x89KSENC"
    offset 6   1 byte   format version, 1
    offset 7   1 byte   log2 of the ciphertext segment size S (6..24; 20 = 1 MiB by default)
    offset 8   ...      Tink AES-GCM-HKDF streaming ciphertext:

    header (40 bytes): header length (1 byte, 40) || salt (32) || nonce prefix (7)
    segment 0: the next S - 40 bytes: S - 56 bytes of plaintext, sealed (ciphertext || tag)
    segment i: S bytes each: S - 16 bytes of plaintext, sealed; the last one may be shorter,
               and is empty (tag only) only when the whole plaintext is empty

    ikm         = the blob subkey (keys.derive_subkey(user data key, Purpose.BLOBS))
    segment key = HKDF-SHA256(ikm, salt=salt, info=AD, length=32)
    AD          = the 8-byte prefix || the caller's associated data (the blob key)
    nonce of i  = nonce prefix (7) || i as uint32 big-endian (4) || 1 if last segment else 0 (1)
    AES-GCM associated data of each segment is empty; tags are 16 bytes.

Tink's format offers no room for a prefix, so ours sits outside the Tink ciphertext: strip the
first 8 bytes and a Tink `StreamingAead` built from the same subkey (`key_value`), segment size
(`ciphertext_segment_size`), `derived_key_size` 32 and `hkdf_hash_type` SHA256 decrypts the rest
with AD = prefix || blob key. Putting the prefix into the AD binds it: changing the segment size
byte derives another key and fails authentication.

What the format guarantees: a segment decrypts only at its own index, in its own blob (the blob
key is in the key derivation), under the right key, unaltered; the last segment is marked, so a
stream cut at a segment boundary fails when its new end is read. A range read authenticates
the segments it returns, not the ones it skips; a range that reaches the end of the blob also
authenticates the last segment. The plaintext size is computed from the ciphertext size without
decrypting, so it is only as trustworthy as the file length until a read reaches the end.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keepsake.crypto.errors import DecryptionError, NotEncryptedError, UnsupportedFormatError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAGIC = b"\x89KSENC"
"""First bytes of every encrypted blob. 0x89 (as in PNG) is not ASCII, so no text file starts
with it, and no image format Keepsake stores (JPEG FF D8, PNG 89 50, HEIF/MP4 `....ftyp`, WebP
`RIFF`, GIF `GIF8`) starts with these six bytes."""
FORMAT_VERSION = 1
PREFIX_SIZE = len(MAGIC) + 2
TINK_HEADER_SIZE = 1 + 32 + 7  # header length byte, salt, nonce prefix
HEADER_SIZE = PREFIX_SIZE + TINK_HEADER_SIZE
TAG_SIZE = 16
KEY_SIZE = 32

DEFAULT_SEGMENT_SIZE = 1 << 20
"""1 MiB, as Tink's AES256_GCM_HKDF_1MB template: 16 bytes of tag per MiB (0.0015 %) and
one AES-GCM call per MiB, while a range request decrypts at most 1 MiB more than it returns."""
MIN_SEGMENT_LOG2 = 6  # 64 bytes: the smallest power of two Tink accepts (more than 40 + 16)
MAX_SEGMENT_LOG2 = 24  # 16 MiB: bounds the memory a hostile blob can make a reader allocate
_MAX_SEGMENTS = 1 << 32  # the segment index is a 32-bit field of the nonce


@dataclass(frozen=True)
class Layout:
    """Where each segment lies, in stored-blob offsets (the 8-byte prefix included)."""

    segment_size: int

    def __post_init__(self) -> None:
        log2 = self.segment_size.bit_length() - 1
        if not MIN_SEGMENT_LOG2 <= log2 <= MAX_SEGMENT_LOG2 or self.segment_size != 1 << log2:
            raise ValueError(
                f"segment size must be a power of two from 2**{MIN_SEGMENT_LOG2} "
                f"to 2**{MAX_SEGMENT_LOG2}"
            )

    @property
    def prefix(self) -> bytes:
        return MAGIC + bytes([FORMAT_VERSION, self.segment_size.bit_length() - 1])

    @property
    def _plain_per_segment(self) -> int:
        return self.segment_size - TAG_SIZE

    def segment_capacity(self, index: int) -> int:
        """Plaintext bytes in segment `index` when it is not the last one."""
        return self._plain_per_segment - (TINK_HEADER_SIZE if index == 0 else 0)

    def segment_of(self, offset: int) -> int:
        """The segment holding plaintext byte `offset`."""
        return (offset + TINK_HEADER_SIZE) // self._plain_per_segment

    def plaintext_start(self, index: int) -> int:
        return 0 if index == 0 else index * self._plain_per_segment - TINK_HEADER_SIZE

    def ciphertext_start(self, index: int) -> int:
        return PREFIX_SIZE + (TINK_HEADER_SIZE if index == 0 else index * self.segment_size)

    def ciphertext_stop(self, index: int, stored_size: int) -> int:
        return min(PREFIX_SIZE + (index + 1) * self.segment_size, stored_size)

    def segment_count(self, stored_size: int) -> int:
        """Segments in a stored blob of `stored_size` bytes; `DecryptionError` when no
        ciphertext produced by this format has that size."""
        tink_size = stored_size - PREFIX_SIZE
        if tink_size < TINK_HEADER_SIZE + TAG_SIZE:
            raise DecryptionError("encrypted blob is truncated (shorter than one segment)")
        count = -(-tink_size // self.segment_size)
        if tink_size - (count - 1) * self.segment_size < TAG_SIZE:
            raise DecryptionError("encrypted blob is truncated inside a segment tag")
        if count > _MAX_SEGMENTS:
            raise DecryptionError("encrypted blob has more segments than the format allows")
        return count

    def plaintext_size(self, stored_size: int) -> int:
        """Plaintext bytes in a stored blob of `stored_size` bytes, without decrypting."""
        count = self.segment_count(stored_size)
        return stored_size - HEADER_SIZE - count * TAG_SIZE

    def stored_size(self, plaintext_size: int) -> int:
        """Stored bytes for `plaintext_size` bytes of plaintext (the inverse of
        `plaintext_size`)."""
        if plaintext_size < 0:
            raise ValueError("negative size")
        # The encrypter never writes an empty last segment unless the plaintext is empty.
        count = 1 if plaintext_size == 0 else self.segment_of(plaintext_size - 1) + 1
        return HEADER_SIZE + plaintext_size + count * TAG_SIZE


def is_encrypted(head: bytes) -> bool:
    """Whether a blob starting with `head` (at least its first 8 bytes) is in this format.

    True means "carries the Keepsake prefix", not "is authentic": decryption decides that."""
    return len(head) >= PREFIX_SIZE and head.startswith(MAGIC)


def parse_prefix(head: bytes) -> Layout:
    """The layout named by a stored blob's first 8 bytes."""
    if not is_encrypted(head):
        raise NotEncryptedError("blob does not start with the Keepsake encryption prefix")
    version, log2 = head[len(MAGIC)], head[len(MAGIC) + 1]
    if version != FORMAT_VERSION:
        raise UnsupportedFormatError(f"unknown encryption format version {version}")
    if not MIN_SEGMENT_LOG2 <= log2 <= MAX_SEGMENT_LOG2:
        raise UnsupportedFormatError(f"segment size 2**{log2} is outside the supported range")
    return Layout(1 << log2)


def _segment_key(ikm: bytes, salt: bytes, associated_data: bytes) -> bytes:
    if len(ikm) != KEY_SIZE:
        raise ValueError(f"stream key must be {KEY_SIZE} bytes")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=associated_data).derive(
        ikm
    )


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class EncryptingReader(io.RawIOBase):
    """A readable binary stream of the encrypted form of `source`, made one segment at a time,
    so a blob of any size is encrypted in memory proportional to the segment size.
    `plaintext_bytes` counts the plaintext consumed so far (all of it once the stream is read
    to its end).

    Copies cost as much as the cipher here, so there are as few as the format allows: each
    plaintext segment is read from `source` in one piece, and `read(n)` hands out a whole
    sealed segment as it is when it fits in `n` (a blob store reading 1 MiB at a time gets
    the 1 MiB segments themselves)."""

    def __init__(
        self,
        ikm: bytes,
        source: BinaryIO,
        associated_data: bytes,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
    ) -> None:
        super().__init__()
        layout = Layout(segment_size)
        self._source = source
        self._layout = layout
        salt = secrets.token_bytes(KEY_SIZE)
        self._nonce_prefix = secrets.token_bytes(7)
        prefix = layout.prefix
        self._aead = AESGCM(_segment_key(ikm, salt, prefix + associated_data))
        self._out: bytes | memoryview = prefix + bytes([TINK_HEADER_SIZE]) + salt
        self._out += self._nonce_prefix
        self._pos = 0
        self._index = 0
        # The next segment's plaintext, read ahead: a segment is the last one only when the
        # source has nothing after it (Tink's encrypter decides the same way).
        self._ahead: bytes | None = None
        self._finished = False
        self.plaintext_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        while self._pos >= len(self._out):
            if self._finished or size == 0:
                return b""
            self._out = self._next_segment()
            self._pos = 0
        if self._pos == 0 and len(self._out) <= size and isinstance(self._out, bytes):
            out, self._out = self._out, b""
            return out
        piece = bytes(self._out[self._pos : self._pos + size])
        self._pos += len(piece)
        return piece

    def readall(self) -> bytes:
        return b"".join(iter(lambda: self.read(1 << 30), b""))

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        target = memoryview(buffer).cast("B")
        piece = self.read(len(target))
        target[: len(piece)] = piece
        return len(piece)

    def _read_full(self, size: int) -> bytes:
        """`size` bytes of plaintext, fewer only at the end of the source."""
        data = self._source.read(size)
        if len(data) < size and data:
            parts = [data]
            got = len(data)
            while got < size and (more := self._source.read(size - got)):
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data

    def _next_segment(self) -> bytes:
        if self._index >= _MAX_SEGMENTS:
            raise ValueError("blob is too large for the encryption format")
        layout = self._layout
        plain = self._ahead
        if plain is None:
            plain = self._read_full(layout.segment_capacity(self._index))
        # A short segment ends the source; a full one is last when nothing follows it.
        ahead = b""
        if len(plain) == layout.segment_capacity(self._index):
            ahead = self._read_full(layout.segment_capacity(self._index + 1))
        last = not ahead
        self._ahead = ahead
        self._finished = last
        sealed = self._aead.encrypt(_nonce(self._nonce_prefix, self._index, last), plain, None)
        self.plaintext_bytes += len(plain)
        self._index += 1
        return sealed


def encrypt_bytes_stream(
    ikm: bytes, plaintext: bytes, associated_data: bytes, segment_size: int = DEFAULT_SEGMENT_SIZE
) -> bytes:
    """The whole stored blob for `plaintext`, in memory (for tests and small blobs)."""
    return EncryptingReader(ikm, io.BytesIO(plaintext), associated_data, segment_size).read()


ReadRange = Callable[[int, int], Iterable[bytes]]
"""Reads stored bytes `[start, stop)`, as `BlobStore.read` does."""


def decrypt_range(
    ikm: bytes,
    read: ReadRange,
    stored_size: int,
    associated_data: bytes,
    start: int = 0,
    stop: int | None = None,
    *,
    header: bytes | None = None,
) -> Iterator[bytes]:
    """Yield plaintext bytes `[start, stop)` (to the end when `stop` is None) of a stored blob
    of `stored_size` bytes, reading the 48-byte header and then only the segments that hold
    the range. Every yielded byte has been authenticated; anything wrong raises
    `DecryptionError` (possibly after earlier, authentic, segments have been yielded).
    `header`, when the caller has already read the blob's first 48 bytes, saves a read."""
    if start < 0 or (stop is not None and stop < 0):
        raise ValueError("negative offsets are not supported")
    if header is None:
        header = _read_exact(read, 0, min(HEADER_SIZE, stored_size))
    layout = parse_prefix(header)
    if len(header) < HEADER_SIZE or header[PREFIX_SIZE] != TINK_HEADER_SIZE:
        raise DecryptionError("encrypted blob has a malformed header")
    salt = header[PREFIX_SIZE + 1 : PREFIX_SIZE + 1 + KEY_SIZE]
    nonce_prefix = header[PREFIX_SIZE + 1 + KEY_SIZE : HEADER_SIZE]
    count = layout.segment_count(stored_size)
    size = stored_size - HEADER_SIZE - count * TAG_SIZE
    stop = size if stop is None else min(stop, size)
    if start >= stop and not (size == 0 and start == 0):
        return
    first = layout.segment_of(start)
    # A range that reaches the end also checks the last segment, which may hold no plaintext
    # (an empty blob, or a stream cut at a segment boundary followed by a forged empty one).
    last = count - 1 if stop == size else layout.segment_of(stop - 1)
    aead = AESGCM(_segment_key(ikm, salt, layout.prefix + associated_data))
    spans = [
        layout.ciphertext_stop(i, stored_size) - layout.ciphertext_start(i)
        for i in range(first, last + 1)
    ]
    # Read from where segment `first` would start if it were a full one (for segment 0, the
    # Tink header, skipped below): a store that reads in segment-sized chunks then hands
    # over each sealed segment in one piece, and nothing is copied to reassemble it.
    aligned = PREFIX_SIZE + first * layout.segment_size
    skip = layout.ciphertext_start(first) - aligned
    pieces = _exact_pieces(
        read(aligned, layout.ciphertext_stop(last, stored_size)), [skip, *spans] if skip else spans
    )
    if skip:
        next(pieces)
    for index, sealed in zip(range(first, last + 1), pieces, strict=True):
        try:
            plain = aead.decrypt(_nonce(nonce_prefix, index, index == count - 1), sealed, None)
        except InvalidTag:
            raise DecryptionError(
                f"segment {index} failed authentication (tampered, truncated, reordered, "
                "moved from another blob, or the wrong key)"
            ) from None
        base = layout.plaintext_start(index)
        lo, hi = max(start - base, 0), min(stop - base, len(plain))
        if lo < hi:
            yield plain if lo == 0 and hi == len(plain) else plain[lo:hi]


def _read_exact(read: ReadRange, start: int, stop: int) -> bytes:
    data = b"".join(read(start, stop))
    if len(data) != stop - start:
        raise DecryptionError("encrypted blob ended early")
    return data


def _exact_pieces(chunks: Iterable[bytes], sizes: list[int]) -> Iterator[bytes | memoryview]:
    """Re-cut a stream of chunks of any size into pieces of exactly `sizes`, copying each byte
    at most once (a piece that lies within one chunk is a view of it)."""
    it = iter(chunks)
    pending: list[bytes | memoryview] = []
    have = 0
    for size in sizes:
        while have < size:
            chunk = next(it, None)
            if chunk is None:
                raise DecryptionError("encrypted blob ended early")
            pending.append(chunk)
            have += len(chunk)
        whole = memoryview(pending[0] if len(pending) == 1 else b"".join(pending))
        rest = whole[size:]
        pending, have = ([rest], len(rest)) if rest else ([], 0)
        yield whole[:size]
