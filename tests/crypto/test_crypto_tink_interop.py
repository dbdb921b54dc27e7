"""Interoperability with Google Tink: what Keepsake writes, Tink's own `StreamingAead`
(AES-GCM-HKDF streaming) decrypts, and the other way round. This is the evidence that the
format is Tink's and not a look-alike. Skipped when the `tink` package is not installed."""

from __future__ import annotations

import io
import secrets
from typing import Any

import pytest

from keepsake.crypto.errors import DecryptionError
from keepsake.crypto.streaming import (
    DEFAULT_SEGMENT_SIZE,
    HEADER_SIZE,
    PREFIX_SIZE,
    TAG_SIZE,
    Layout,
    decrypt_range,
    encrypt_bytes_stream,
)

tink = pytest.importorskip("tink", reason="the tink package is needed for the interop tests")
streaming_aead = pytest.importorskip("tink.streaming_aead")
tink_pb2 = pytest.importorskip("tink.proto.tink_pb2")
aes_gcm_hkdf_streaming_pb2 = pytest.importorskip("tink.proto.aes_gcm_hkdf_streaming_pb2")
common_pb2 = pytest.importorskip("tink.proto.common_pb2")
secret_key_access = pytest.importorskip("tink.secret_key_access")

AD = b"originals/u1/photo.jpg"


def tink_primitive(ikm: bytes, segment_size: int) -> Any:
    """A Tink StreamingAead from raw key material: the keyset Tink would hold for the same key."""
    streaming_aead.register()
    key = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(
        version=0,
        key_value=ikm,
        params=aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingParams(
            ciphertext_segment_size=segment_size,
            derived_key_size=32,
            hkdf_hash_type=common_pb2.SHA256,
        ),
    )
    keyset = tink_pb2.Keyset(
        primary_key_id=1,
        key=[
            tink_pb2.Keyset.Key(
                key_data=tink_pb2.KeyData(
                    type_url="type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey",
                    value=key.SerializeToString(),
                    key_material_type=tink_pb2.KeyData.SYMMETRIC,
                ),
                status=tink_pb2.ENABLED,
                key_id=1,
                output_prefix_type=tink_pb2.RAW,
            )
        ],
    )
    handle = tink.proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN)
    return handle.primitive(streaming_aead.StreamingAead)


class _Sink(io.BytesIO):
    """Tink closes the destination when its stream closes; keep the bytes readable."""

    def close(self) -> None:
        pass


def tink_encrypt(primitive: Any, plaintext: bytes, associated_data: bytes) -> bytes:
    sink = _Sink()
    with primitive.new_encrypting_stream(sink, associated_data) as stream:
        stream.write(plaintext)
    return sink.getvalue()


def tink_decrypt(primitive: Any, ciphertext: bytes, associated_data: bytes) -> bytes:
    with primitive.new_decrypting_stream(io.BytesIO(ciphertext), associated_data) as stream:
        data: bytes = stream.read()
    return data


def sizes(segment_size: int) -> list[int]:
    first = segment_size - (HEADER_SIZE - PREFIX_SIZE) - TAG_SIZE
    later = segment_size - TAG_SIZE
    edges = [0, 1, first - 1, first, first + 1, first + later, first + later + 1]
    return [*edges, first + 5 * later, first + 5 * later + 3]


@pytest.mark.parametrize("segment_size", [64, 4096, DEFAULT_SEGMENT_SIZE])
def test_tink_decrypts_what_keepsake_encrypts(segment_size: int) -> None:
    ikm = secrets.token_bytes(32)
    primitive = tink_primitive(ikm, segment_size)
    prefix = Layout(segment_size).prefix
    for size in sizes(segment_size):
        plaintext = secrets.token_bytes(size)
        stored = encrypt_bytes_stream(ikm, plaintext, AD, segment_size)
        assert stored[:PREFIX_SIZE] == prefix
        assert tink_decrypt(primitive, stored[PREFIX_SIZE:], prefix + AD) == plaintext


@pytest.mark.parametrize("segment_size", [64, 4096, DEFAULT_SEGMENT_SIZE])
def test_keepsake_decrypts_what_tink_encrypts(segment_size: int) -> None:
    ikm = secrets.token_bytes(32)
    primitive = tink_primitive(ikm, segment_size)
    layout = Layout(segment_size)
    for size in sizes(segment_size):
        plaintext = secrets.token_bytes(size)
        stored = layout.prefix + tink_encrypt(primitive, plaintext, layout.prefix + AD)
        assert len(stored) == layout.stored_size(size), "same segment boundaries as Tink"
        assert layout.plaintext_size(len(stored)) == size

        def read(start: int, stop: int, stored: bytes = stored) -> list[bytes]:
            return [stored[start:stop]]

        assert b"".join(decrypt_range(ikm, read, len(stored), AD)) == plaintext
        if size > 10:
            middle = b"".join(decrypt_range(ikm, read, len(stored), AD, 5, size - 5))
            assert middle == plaintext[5:-5]


def test_tink_refuses_keepsake_ciphertext_for_another_blob() -> None:
    """The same binding holds in Tink: the blob key is part of the key derivation."""
    ikm = secrets.token_bytes(32)
    primitive = tink_primitive(ikm, 4096)
    stored = encrypt_bytes_stream(ikm, b"private", AD, 4096)
    with pytest.raises(tink.TinkError):
        tink_decrypt(primitive, stored[PREFIX_SIZE:], Layout(4096).prefix + b"originals/u1/x")


def test_keepsake_refuses_tink_ciphertext_under_another_key() -> None:
    layout = Layout(4096)
    stored = layout.prefix + tink_encrypt(
        tink_primitive(secrets.token_bytes(32), 4096), b"private", layout.prefix + AD
    )

    def read(start: int, stop: int) -> list[bytes]:
        return [stored[start:stop]]

    with pytest.raises(DecryptionError):
        b"".join(decrypt_range(secrets.token_bytes(32), read, len(stored), AD))
