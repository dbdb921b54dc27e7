"""Keepsake's key hierarchy: one master key per installation wraps one random data key per
user; each purpose (blobs, checksums, face templates) uses its own subkey derived from the
user's data key. Destroying a user's wrapped key makes everything of that user unreadable.

Wrapped user key (a string stored in the database)::

    ks1:<master key id, 16 hex>:<base64url, no padding: nonce (12) || ciphertext (32) || tag (16)>

AES-256-GCM under a wrapping key derived from the master key, associated data
``b"keepsake/v1/user-key\\x00" + b"ks1:<key id>" + b"\\x00" + user_id``, so a wrapped key cannot
be moved to another user's row or relabelled with another key id.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keepsake.crypto.errors import (
    DecryptionError,
    MasterKeyInvalidError,
    MasterKeyMissingError,
    WrongMasterKeyError,
)

KEY_SIZE = 32
"""Bytes in the master key and in every user data key (AES-256)."""

MASTER_KEY_FILENAME = "master.key"

_WRAP_VERSION = "ks1"
_WRAP_NONCE_SIZE = 12
_WRAPPED = re.compile(r"^ks1:([0-9a-f]{16}):([A-Za-z0-9_-]+)$")
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")

# HKDF info labels. Each use of a key gets its own label so that one derived key can never be
# substituted for another; the version lets a future format change derive fresh keys.
_MASTER_KEY_ID_INFO = b"keepsake/v1/master-key-id"
_MASTER_WRAP_INFO = b"keepsake/v1/master-wrap"
_USER_KEY_AD = b"keepsake/v1/user-key\x00"


class Purpose(enum.Enum):
    """What a subkey of a user's data key is for; the value is its HKDF info label."""

    BLOBS = b"keepsake/v1/blobs"
    CHECKSUMS = b"keepsake/v1/checksums"
    TEMPLATES = b"keepsake/v1/templates"
    # Asset metadata sealed in the database (file name, SHA-256, camera, place, EXIF).
    METADATA = b"keepsake/v1/metadata"
    # Keyed tags of metadata values the server must compare without reading (camera make).
    TAGS = b"keepsake/v1/tags"
    # Account secrets: the TOTP seed.
    ACCOUNT = b"keepsake/v1/account"


def _hkdf(key: bytes, info: bytes, length: int = KEY_SIZE) -> bytes:
    # The input keys are uniformly random, so HKDF needs no salt (RFC 5869, section 3.1).
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(key)


def derive_subkey(user_key: bytes, purpose: Purpose) -> bytes:
    """The 32-byte key for one purpose, derived from a user's data key."""
    _check_key_size(user_key, "user data key")
    return _hkdf(user_key, purpose.value)


class MasterKey:
    """The installation's master key. Its repr shows only the key id, never the key."""

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        _check_key_size(secret, "master key")
        self._secret = bytes(secret)
        # A one-way derivation, so the id can be logged and stored next to wrapped keys
        # without revealing anything about the key.
        self.key_id: str = _hkdf(secret, _MASTER_KEY_ID_INFO, 8).hex()

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_SIZE))

    @classmethod
    def from_base64(cls, text: str) -> MasterKey:
        return cls(_decode_key_text(text))

    def to_base64(self) -> str:
        """The key in the form `KEEPSAKE_*` variables and key files use; only for writing a
        key file or showing it once to an operator who asked for it."""
        return base64.b64encode(self._secret).decode("ascii")

    def _wrapping_key(self) -> bytes:
        return _hkdf(self._secret, _MASTER_WRAP_INFO)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterKey):
            return NotImplemented
        return hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"

    def __reduce__(self) -> NoReturn:
        # Pickling would write the secret wherever the pickle goes (a job queue, a cache).
        raise TypeError("MasterKey cannot be pickled")


def load_or_create_master_key(
    data_dir: Path,
    env_value: str | None,
    file_path: Path | None,
    encrypted_data_exists: bool,
) -> MasterKey:
    """The master key for this start of Keepsake.

    From `env_value` (base64) or `file_path` (a secret file, raw 32 bytes or base64) when one
    is given; otherwise from `data_dir/master.key`, which is created with mode 0600 on the
    first start. Raises `MasterKeyMissingError` rather than create a new key when encrypted data
    already exists, and `MasterKeyInvalidError` for a malformed or ambiguous configuration.
    """
    if env_value is not None and file_path is not None:
        raise MasterKeyInvalidError(
            "both a master key value and a master key file are configured; set only one"
        )
    if env_value is not None:
        try:
            return MasterKey(_decode_key_text(env_value))
        except MasterKeyInvalidError as exc:
            raise MasterKeyInvalidError(f"the master key from the environment: {exc}") from None
    if file_path is not None:
        if not file_path.is_file():
            raise MasterKeyMissingError(
                f"the configured master key file {file_path} does not exist"
            )
        return read_master_key_file(file_path, require_private=False)

    path = data_dir / MASTER_KEY_FILENAME
    if path.exists():
        return read_master_key_file(path, require_private=True)
    if encrypted_data_exists:
        raise MasterKeyMissingError(
            f"no master key at {path}, but encrypted data exists in {data_dir}; restore the "
            "master key file (or set the master key in the environment) to start Keepsake. "
            "A new key would not decrypt the existing data."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return create_master_key_file(path)
    except FileExistsError:
        # Another process started at the same moment and won the race; use its key.
        return read_master_key_file(path, require_private=True)


def create_master_key_file(path: Path) -> MasterKey:
    """Generate a master key and write it to `path` (mode 0600, base64 text). Never overwrites:
    raises `FileExistsError` when `path` exists.

    The key is written to a temporary file (created with O_EXCL, fsynced), then published
    with a hard link, which fails if `path` exists. So `path` never exists half-written, even
    after a crash or when two processes race to create it.
    """
    key = MasterKey.generate()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        _write_new_key_file(tmp, key)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:
            # Some filesystems (FUSE, SMB mounts) have no hard links. Creating the final name
            # with O_EXCL still never overwrites; a crash mid-write leaves a file that fails to
            # load with a clear error, and no data can have been encrypted with it yet.
            _write_new_key_file(path, key)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return key


def _write_new_key_file(path: Path, key: MasterKey) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        # The umask can only clear bits of 0600, but make the mode exact anyway.
        os.fchmod(fd, 0o600)
        os.write(fd, (key.to_base64() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_master_key_file(path: Path, *, require_private: bool = True) -> MasterKey:
    """Read a master key file: raw 32 bytes, or base64 text.

    With `require_private`, refuse a file that group or others may read or write, as ssh does
    with private keys. Operator-supplied secret files (for example Docker secrets, often mode
    0444 inside a private mount) are read without that check.
    """
    try:
        # Our own key file must not be a symlink planted by someone else; an operator's secret
        # file may be one (Kubernetes mounts secrets as symlinks).
        nofollow = getattr(os, "O_NOFOLLOW", 0) if require_private else 0
        fd = os.open(path, os.O_RDONLY | nofollow)
    except FileNotFoundError:
        raise MasterKeyMissingError(f"master key file {path} does not exist") from None
    except OSError as exc:
        raise MasterKeyInvalidError(f"cannot open master key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise MasterKeyInvalidError(f"master key file {path} is not a regular file")
        if require_private and info.st_mode & 0o077:
            raise MasterKeyInvalidError(
                f"master key file {path} is accessible by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`"
            )
        data = f.read(1024)
    if len(data) == KEY_SIZE:
        return MasterKey(data)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MasterKeyInvalidError(
            f"master key file {path} is neither {KEY_SIZE} raw bytes nor base64 text"
        ) from None
    try:
        return MasterKey(_decode_key_text(text))
    except MasterKeyInvalidError as exc:
        raise MasterKeyInvalidError(f"master key file {path}: {exc}") from None


def new_user_key() -> bytes:
    """A fresh random data key for a new user."""
    return secrets.token_bytes(KEY_SIZE)


def wrap(master: MasterKey, user_key: bytes, user_id: str) -> str:
    """Encrypt a user's data key under the master key, bound to `user_id`."""
    _check_key_size(user_key, "user data key")
    label = f"{_WRAP_VERSION}:{master.key_id}"
    nonce = secrets.token_bytes(_WRAP_NONCE_SIZE)
    sealed = AESGCM(master._wrapping_key()).encrypt(
        nonce, user_key, _wrap_associated_data(label, user_id)
    )
    body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
    return f"{label}:{body}"


def unwrap(master: MasterKey, wrapped: str, user_id: str) -> bytes:
    """The user's data key from its wrapped form. Raises `WrongMasterKeyError` when another master
    key wrapped it, `DecryptionError` when it was altered or belongs to another user."""
    key_id, blob = _parse_wrapped(wrapped)
    if key_id != master.key_id:
        raise WrongMasterKeyError(
            f"user key is wrapped by master key {key_id}, not by {master.key_id}"
        )
    nonce, sealed = blob[:_WRAP_NONCE_SIZE], blob[_WRAP_NONCE_SIZE:]
    label = f"{_WRAP_VERSION}:{key_id}"
    try:
        user_key = AESGCM(master._wrapping_key()).decrypt(
            nonce, sealed, _wrap_associated_data(label, user_id)
        )
    except InvalidTag:
        raise DecryptionError(
            "wrapped user key failed authentication (altered, or stored for another user)"
        ) from None
    return user_key


def rewrap(old: MasterKey, new: MasterKey, wrapped: str, user_id: str) -> str:
    """Re-wrap a user's data key under a new master key, for key rotation. Blobs need no
    change: they are encrypted under the user key, which stays the same. Idempotent: a key
    already wrapped by `new` is returned unchanged, so an interrupted rotation can be re-run."""
    if wrapped_key_id(wrapped) == new.key_id:
        unwrap(new, wrapped, user_id)  # still authenticate it before declaring it done
        return wrapped
    return wrap(new, unwrap(old, wrapped, user_id), user_id)


def wrapped_key_id(wrapped: str) -> str:
    """The id of the master key that wrapped `wrapped` (not secret)."""
    return _parse_wrapped(wrapped)[0]


def keyed_checksum(user_key: bytes, sha256_hex: str) -> str:
    """HMAC-SHA256 of a content checksum under the user's checksum subkey, as 64 hex chars.

    Stored instead of the bare SHA-256 for de-duplication, so that someone holding a leaked
    database cannot test whether a user owns a known photo by hashing it."""
    if not _SHA256_HEX.match(sha256_hex):
        raise ValueError("expected a SHA-256 digest as 64 hex characters")
    subkey = derive_subkey(user_key, Purpose.CHECKSUMS)
    return hmac.new(subkey, bytes.fromhex(sha256_hex), hashlib.sha256).hexdigest()


def _wrap_associated_data(label: str, user_id: str) -> bytes:
    if not user_id:
        raise ValueError("user_id must not be empty")
    return _USER_KEY_AD + label.encode("ascii") + b"\x00" + user_id.encode("utf-8")


def _parse_wrapped(wrapped: str) -> tuple[str, bytes]:
    match = _WRAPPED.match(wrapped)
    if match is None:
        raise DecryptionError("not a Keepsake wrapped key (expected `ks1:<key id>:<data>`)")
    body = match.group(2)
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise DecryptionError("wrapped key is not valid base64") from None
    if len(blob) != _WRAP_NONCE_SIZE + KEY_SIZE + 16:
        raise DecryptionError("wrapped key has the wrong length")
    return match.group(1), blob


def _decode_key_text(text: str) -> bytes:
    stripped = text.strip()
    # Standard or URL-safe alphabet; `validate` refuses stray characters instead of skipping.
    for altchars in (None, b"-_"):
        try:
            data = base64.b64decode(stripped.encode("ascii"), altchars=altchars, validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
        if len(data) == KEY_SIZE:
            return data
    # The message never echoes the value: it may be a real key with one character missing.
    raise MasterKeyInvalidError(
        f"expected {KEY_SIZE} random bytes in base64 (for example from "
        "`head -c 32 /dev/urandom | base64`)"
    )


def _check_key_size(key: bytes, what: str) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
