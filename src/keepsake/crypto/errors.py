"""Errors raised by the crypto engine. None of them is a user's fault, so they live apart from
`keepsake.errors` (whose classes become 4xx problems); their messages never carry key material,
only facts an operator can act on (a path, a key id, which check failed)."""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every error raised by `keepsake.crypto`."""


class MasterKeyMissingError(CryptoError):
    """No master key can be found, but encrypted data exists that needs one. Keepsake refuses to
    start rather than create a new key that could never decrypt the existing data."""


class MasterKeyInvalidError(CryptoError):
    """A master key was supplied but is malformed, ambiguous or stored unsafely."""


class WrongMasterKeyError(CryptoError):
    """A wrapped user key names a different master key than the one supplied."""


class DecryptionError(CryptoError):
    """Ciphertext failed authentication or is malformed: tampered, truncated, reordered, stored
    under another key, or decrypted with the wrong key. No plaintext from it is ever returned."""


class NotEncryptedError(DecryptionError):
    """The stored bytes do not start with Keepsake's encryption prefix: a legacy plaintext blob
    (or one whose first bytes were overwritten)."""


class UnsupportedFormatError(DecryptionError):
    """The stored bytes carry Keepsake's prefix but a version or parameter this build does not
    know."""


class UserKeyMissingError(CryptoError):
    """A user's data key is not in the database: the account was deleted (its key destroyed,
    so its data is unreadable for good) or never existed."""


class EncryptionStateError(CryptoError):
    """The settings contradict what the data needs: encryption at rest turned off while
    encrypted blobs exist, or a master key that did not wrap this database's user keys."""
