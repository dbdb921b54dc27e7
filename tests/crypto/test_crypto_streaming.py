"""Small tests of the streaming format: round trips at every segment boundary, every byte range,
and that any change to the stored bytes is refused rather than decrypted."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterable, Iterator
from typing import BinaryIO, cast

import pytest

from keepsake.crypto.errors import (
    DecryptionError,
    NotEncryptedError,
    UnsupportedFormatError,
)
from keepsake.crypto.streaming import (
    DEFAULT_SEGMENT_SIZE,
    HEADER_SIZE,
    PREFIX_SIZE,
    TAG_SIZE,
    EncryptingReader,
    Layout,
    ReadRange,
    decrypt_range,
    encrypt_bytes_stream,
    is_encrypted,
    parse_prefix,
)

SMALL = 64  # 8 plaintext bytes in segment 0, 48 in each later one: many segments, fast tests
AD = b"originals/u1/photo.jpg"
IKM = bytes(range(32))


def reader(stored: bytes, chunk: int = 7) -> tuple[list[tuple[int, int]], ReadRange]:
    calls: list[tuple[int, int]] = []

    def read(start: int, stop: int) -> Iterator[bytes]:
        calls.append((start, stop))
        # Uneven chunks by default, as a network store might return them.
        for i in range(start, stop, chunk):
            yield stored[i : min(i + chunk, stop)]

    return calls, read


def decrypt(
    stored: bytes,
    ikm: bytes = IKM,
    ad: bytes = AD,
    start: int = 0,
    stop: int | None = None,
    chunk: int = 7,
) -> bytes:
    _, read = reader(stored, chunk)
    return b"".join(decrypt_range(ikm, read, len(stored), ad, start, stop))


def boundary_sizes(segment_size: int) -> list[int]:
    first = segment_size - (HEADER_SIZE - PREFIX_SIZE) - TAG_SIZE
    later = segment_size - TAG_SIZE
    return [0, 1, first - 1, first, first + 1, first + later - 1, first + later, first + later + 1]


@pytest.mark.parametrize("segment_size", [SMALL, 4096])
def test_round_trip_at_every_segment_boundary(segment_size: int) -> None:
    for size in [*boundary_sizes(segment_size), segment_size - 1, segment_size, segment_size + 1]:
        plaintext = secrets.token_bytes(size)
        stored = encrypt_bytes_stream(IKM, plaintext, AD, segment_size)
        assert len(stored) == Layout(segment_size).stored_size(size)
        assert parse_prefix(stored).plaintext_size(len(stored)) == size
        assert decrypt(stored) == plaintext


def test_round_trip_of_several_mebibytes_with_default_segments() -> None:
    plaintext = secrets.token_bytes(3 * DEFAULT_SEGMENT_SIZE + 12345)
    stored = encrypt_bytes_stream(IKM, plaintext, AD)
    assert parse_prefix(stored).segment_size == DEFAULT_SEGMENT_SIZE
    assert decrypt(stored, chunk=DEFAULT_SEGMENT_SIZE) == plaintext
    middle = slice(DEFAULT_SEGMENT_SIZE - 5, DEFAULT_SEGMENT_SIZE + 5)
    assert decrypt(stored, start=middle.start, stop=middle.stop, chunk=4096) == plaintext[middle]


def test_plaintext_size_inverts_stored_size_for_every_length() -> None:
    layout = Layout(SMALL)
    for size in range(2000):
        assert layout.plaintext_size(layout.stored_size(size)) == size


def test_every_range_matches_the_plaintext() -> None:
    plaintext = secrets.token_bytes(150)  # 4 segments of 64 bytes
    stored = encrypt_bytes_stream(IKM, plaintext, AD, SMALL)
    for start in range(len(plaintext) + 3):
        for stop in range(start, len(plaintext) + 3):
            assert decrypt(stored, start=start, stop=stop) == plaintext[start:stop], (start, stop)
        assert decrypt(stored, start=start) == plaintext[start:]


def test_range_reads_only_the_header_and_needed_segments() -> None:
    layout = Layout(SMALL)
    plaintext = secrets.token_bytes(1000)
    stored = encrypt_bytes_stream(IKM, plaintext, AD, SMALL)
    calls, read = reader(stored)
    start, stop = 500, 510  # inside one segment
    chunks = decrypt_range(IKM, read, len(stored), AD, start, stop)
    assert b"".join(chunks) == plaintext[start:stop]
    index = layout.segment_of(start)
    assert index == layout.segment_of(stop - 1)
    assert calls == [
        (0, HEADER_SIZE),
        (layout.ciphertext_start(index), layout.ciphertext_stop(index, len(stored))),
    ]


def test_encryption_reads_the_source_in_bounded_pieces() -> None:
    """Constant memory: the encrypter never asks the source for more than about one segment."""

    class Source(io.RawIOBase):
        def __init__(self, size: int) -> None:
            self.left = size
            self.largest = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            assert n > 0, "the encrypter must not read the whole source at once"
            self.largest = max(self.largest, n)
            n = min(n, self.left)
            self.left -= n
            return b"\0" * n

    source = Source(40 * 4096)
    stream = EncryptingReader(IKM, cast(BinaryIO, source), AD, 4096)
    while stream.read(1000):
        pass
    assert source.largest <= 4096
    assert stream.plaintext_bytes == 40 * 4096


def test_short_reads_from_the_source_give_the_same_plaintext() -> None:
    plaintext = secrets.token_bytes(777)

    class Trickle(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            return super().read(min(3, n if n is not None and n >= 0 else 3))

    stored = EncryptingReader(IKM, Trickle(plaintext), AD, SMALL).read()
    assert decrypt(stored) == plaintext


def test_flipping_any_single_bit_is_detected() -> None:
    plaintext = secrets.token_bytes(200)
    stored = encrypt_bytes_stream(IKM, plaintext, AD, SMALL)
    for position in range(len(stored)):
        for bit in (0x01, 0x80):
            tampered = bytearray(stored)
            tampered[position] ^= bit
            with pytest.raises(DecryptionError):
                decrypt(bytes(tampered))


def test_truncation_is_detected_at_any_length() -> None:
    plaintext = secrets.token_bytes(200)
    stored = encrypt_bytes_stream(IKM, plaintext, AD, SMALL)
    for length in range(len(stored)):
        with pytest.raises(DecryptionError):
            decrypt(stored[:length])


def test_dropping_the_last_segment_is_detected() -> None:
    layout = Layout(SMALL)
    plaintext = secrets.token_bytes(layout.segment_capacity(0) + 3 * layout.segment_capacity(1))
    stored = encrypt_bytes_stream(IKM, plaintext, AD, SMALL)
    assert (len(stored) - PREFIX_SIZE) % SMALL == 0, "test wants whole segments"
    cut = stored[:-SMALL]  # a ciphertext that ends exactly at a segment boundary
    assert layout.plaintext_size(len(cut)) == len(plaintext) - layout.segment_capacity(1)
    with pytest.raises(DecryptionError):
        decrypt(cut)
    # Ranges before the cut are authentic and still readable; the new end is not.
    assert decrypt(cut, stop=10) == plaintext[:10]
    with pytest.raises(DecryptionError):
        decrypt(cut, start=len(plaintext) - layout.segment_capacity(1) - 1)


def test_appended_bytes_are_detected() -> None:
    stored = encrypt_bytes_stream(IKM, b"photo", AD, SMALL)
    for extra in (b"x", secrets.token_bytes(TAG_SIZE), secrets.token_bytes(SMALL)):
        with pytest.raises(DecryptionError):
            decrypt(stored + extra)


def test_reordered_segments_are_detected() -> None:
    plaintext = secrets.token_bytes(400)
    stored = encrypt_bytes_stream(IKM, plaintext, AD, SMALL)

    def segment(i: int) -> slice:
        return slice(PREFIX_SIZE + i * SMALL, PREFIX_SIZE + (i + 1) * SMALL)

    swapped = bytearray(stored)
    swapped[segment(2)], swapped[segment(3)] = stored[segment(3)], stored[segment(2)]
    with pytest.raises(DecryptionError):
        decrypt(bytes(swapped))


def test_segment_from_another_blob_under_the_same_key_is_detected() -> None:
    one = encrypt_bytes_stream(IKM, secrets.token_bytes(400), AD, SMALL)
    two = encrypt_bytes_stream(IKM, secrets.token_bytes(400), AD, SMALL)
    spliced = one[: PREFIX_SIZE + 2 * SMALL] + two[PREFIX_SIZE + 2 * SMALL :]
    with pytest.raises(DecryptionError):
        decrypt(spliced)


def test_other_associated_data_or_key_is_refused() -> None:
    stored = encrypt_bytes_stream(IKM, b"holiday", AD, SMALL)
    with pytest.raises(DecryptionError):
        decrypt(stored, ad=b"originals/u1/other.jpg")
    with pytest.raises(DecryptionError):
        decrypt(stored, ikm=secrets.token_bytes(32))


def test_empty_plaintext_is_still_authenticated() -> None:
    stored = encrypt_bytes_stream(IKM, b"", AD, SMALL)
    assert decrypt(stored) == b""
    with pytest.raises(DecryptionError):
        decrypt(stored, ikm=secrets.token_bytes(32))


def test_prefix_marks_encrypted_blobs_and_nothing_else() -> None:
    stored = encrypt_bytes_stream(IKM, b"x", AD, SMALL)
    assert is_encrypted(stored[:PREFIX_SIZE])
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    png = b"\x89PNG\r\n\x1a\n"
    heic = b"\x00\x00\x00\x18ftypheic"
    for legacy in (jpeg, png, heic, b""):
        assert not is_encrypted(legacy)
        with pytest.raises(NotEncryptedError):
            decrypt(legacy + b"\0" * 100)
    assert not is_encrypted(stored[: PREFIX_SIZE - 1]), "a prefix needs all of its 8 bytes"


def test_unknown_version_or_segment_size_is_refused() -> None:
    stored = bytearray(encrypt_bytes_stream(IKM, b"x", AD, SMALL))
    stored[6] = 2
    with pytest.raises(UnsupportedFormatError):
        decrypt(bytes(stored))
    stored[6], stored[7] = 1, 40
    with pytest.raises(UnsupportedFormatError):
        decrypt(bytes(stored))


@pytest.mark.parametrize("segment_size", [0, 32, 100, 1 << 25])
def test_invalid_segment_sizes_are_refused(segment_size: int) -> None:
    with pytest.raises(ValueError, match="segment size"):
        Layout(segment_size)


def test_encrypting_twice_gives_different_ciphertexts() -> None:
    one = encrypt_bytes_stream(IKM, b"same photo", AD, SMALL)
    two = encrypt_bytes_stream(IKM, b"same photo", AD, SMALL)
    assert one[PREFIX_SIZE:] != two[PREFIX_SIZE:]


def test_chunks_from_reader_may_be_any_size() -> None:
    plaintext = secrets.token_bytes(300)
    stored = encrypt_bytes_stream(IKM, plaintext, AD, SMALL)

    def whole(start: int, stop: int) -> Iterable[bytes]:
        return [stored[start:stop]]

    def bytewise(start: int, stop: int) -> Iterable[bytes]:
        return (stored[i : i + 1] for i in range(start, stop))

    for read in (whole, bytewise):
        assert b"".join(decrypt_range(IKM, read, len(stored), AD, 5, 290)) == plaintext[5:290]
