"""Encryption at rest: the key hierarchy (master key, per-user data keys, purpose subkeys) and
authenticated streaming encryption of blobs in Tink's AES-GCM-HKDF streaming format."""

from keepsake.crypto.blobs import EncryptedBlobStore, decrypt_bytes, encrypt_bytes
from keepsake.crypto.errors import (
    CryptoError,
    DecryptionError,
    EncryptionStateError,
    MasterKeyInvalidError,
    MasterKeyMissingError,
    NotEncryptedError,
    UnsupportedFormatError,
    UserKeyMissingError,
    WrongMasterKeyError,
)
from keepsake.crypto.keys import (
    MasterKey,
    Purpose,
    create_master_key_file,
    derive_subkey,
    keyed_checksum,
    load_or_create_master_key,
    new_user_key,
    read_master_key_file,
    rewrap,
    unwrap,
    wrap,
    wrapped_key_id,
)
from keepsake.crypto.streaming import is_encrypted

__all__ = [
    "CryptoError",
    "DecryptionError",
    "EncryptedBlobStore",
    "EncryptionStateError",
    "MasterKey",
    "MasterKeyInvalidError",
    "MasterKeyMissingError",
    "NotEncryptedError",
    "Purpose",
    "UnsupportedFormatError",
    "UserKeyMissingError",
    "WrongMasterKeyError",
    "create_master_key_file",
    "decrypt_bytes",
    "derive_subkey",
    "encrypt_bytes",
    "is_encrypted",
    "keyed_checksum",
    "load_or_create_master_key",
    "new_user_key",
    "read_master_key_file",
    "rewrap",
    "unwrap",
    "wrap",
    "wrapped_key_id",
]
