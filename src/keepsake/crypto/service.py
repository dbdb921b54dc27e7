"""The running installation's keys: loading the master key at start, each user's data key
(unwrapped on first use and cached for the life of the process), sealing small values with
it, key rotation, and the migration of data stored before encryption was on.

Other services reach user keys only through `KeyService` (the container's `keys`): the face
engine seals a template with `keys.seal(owner_id, template, face_id.encode(),
Purpose.TEMPLATES)`, the same format as `crypto.encrypt_bytes(keys.user_key(owner_id), ...)`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from keepsake.config import Settings
from keepsake.crypto import records
from keepsake.crypto.blobs import EncryptedBlobStore, open_with, seal_with
from keepsake.crypto.errors import (
    EncryptionStateError,
    MasterKeyInvalidError,
    UserKeyMissingError,
    WrongMasterKeyError,
)
from keepsake.crypto.keyring import NEW_SUFFIX, OLD_SUFFIX, Keyring, sibling
from keepsake.crypto.keys import (
    MasterKey,
    Purpose,
    create_master_key_file,
    derive_subkey,
    keyed_checksum,
    new_user_key,
    read_master_key_file,
    rewrap,
    unwrap,
    wrap,
    wrapped_key_id,
)
from keepsake.crypto.repository import (
    BLOBS_ENCRYPTED,
    MASTER_KEY_ID,
    PLAINTEXT_BLOBS,
    KeyRepository,
)
from keepsake.jobs.queue import JobResult
from keepsake.storage.blobs import BlobStore
from keepsake.storage.db import Database

log = logging.getLogger("keepsake.crypto")

ENCRYPT_LEGACY_JOB = "crypto.encrypt_legacy"
LEGACY_BATCH = 200  # rows sealed per transaction when migrating library-core rows


@dataclass(frozen=True)
class Rotation:
    old_key_id: str
    new_key_id: str
    rewrapped: int
    key_file: Path


@dataclass(frozen=True)
class BlobMigration:
    encrypted: int
    already: int
    skipped: int


class KeyService:
    """User data keys, wrapped by the master key, for every service that encrypts."""

    def __init__(self, db: Database, repo: KeyRepository, keyring: Keyring) -> None:
        self.db = db
        self.repo = repo
        self.keyring = keyring
        self._user_keys: dict[str, bytes] = {}
        # Derived per (user, purpose) once: a timeline page reveals hundreds of rows, and
        # HKDF would otherwise be half the cost of each.
        self._subkeys: dict[tuple[str, Purpose], bytes] = {}
        self._aeads: dict[tuple[str, Purpose], AESGCM] = {}
        self._lock = threading.Lock()
        self.encrypted_blobs: EncryptedBlobStore | None = None

    @classmethod
    def start(cls, db: Database, settings: Settings) -> KeyService:
        """Load the master key (creating it on a fresh installation), refuse a key that did not
        wrap this database's user keys, and give a key to every user that has none."""
        env_value = settings.master_key.get_secret_value() if settings.master_key else None
        keyring = Keyring(settings.data_dir, env_value, settings.master_key_file)
        service = cls(db, KeyRepository(), keyring)
        service._open()
        return service

    def _open(self) -> None:
        with self.db.read() as s:
            state_id = self.repo.state(s, MASTER_KEY_ID)
            encrypted_data_exists = state_id is not None or self.repo.any_wrapped_key(s)
        primary = self.keyring.load(encrypted_data_exists)
        if state_id is None:
            with self.db.write() as s:
                state_id = self.repo.state(s, MASTER_KEY_ID, for_update=True)
                if state_id is None:
                    self.repo.set_state(s, MASTER_KEY_ID, primary.key_id)
                    state_id = primary.key_id
        if self.keyring.get(state_id) is None:
            raise WrongMasterKeyError(
                f"the user keys in this database are wrapped by master key {state_id}, but the "
                f"configured master key is {primary.key_id}; configure the right key"
            )
        with self.db.write() as s:
            for user_id in self.repo.users_without_key(s):
                # Accounts from before encryption get their key now.
                self.repo.set_wrapped_key(s, user_id, self.wrap_new_user_key(s, user_id))

    # --- user keys ---------------------------------------------------------------------

    def wrap_new_user_key(self, s: Session, user_id: str) -> str:
        """A fresh data key for `user_id`, wrapped by the master key in use, to store on the
        user's row inside the caller's transaction `s`."""
        state_id = self.repo.state(s, MASTER_KEY_ID, for_update=True)
        master = self.keyring.get(state_id) if state_id else None
        if master is None:
            raise WrongMasterKeyError(
                f"master key {state_id} is not available to this process; restart Keepsake "
                "with the current master key"
            )
        return wrap(master, new_user_key(), user_id)

    def user_key(self, owner_id: str) -> bytes:
        """The owner's 32-byte data key. `UserKeyMissingError` once the account is deleted."""
        with self._lock:
            cached = self._user_keys.get(owner_id)
        if cached is not None:
            return cached
        with self.db.read() as s:
            wrapped = self.repo.wrapped_key(s, owner_id)
        if wrapped is None:
            raise UserKeyMissingError(f"no data key for user {owner_id}")
        key_id = wrapped_key_id(wrapped)
        master = self.keyring.get(key_id)
        if master is None:
            raise WrongMasterKeyError(f"user key is wrapped by master key {key_id}, not loaded")
        key = unwrap(master, wrapped, owner_id)
        with self._lock:
            self._user_keys[owner_id] = key
        return key

    def forget(self, owner_id: str) -> None:
        """Drop a cached key and what was derived from it: its account is being deleted."""
        with self._lock:
            self._user_keys.pop(owner_id, None)
            for purpose in Purpose:
                self._subkeys.pop((owner_id, purpose), None)
                self._aeads.pop((owner_id, purpose), None)

    def _subkey(self, owner_id: str, purpose: Purpose) -> bytes:
        with self._lock:
            cached = self._subkeys.get((owner_id, purpose))
        if cached is None:
            cached = derive_subkey(self.user_key(owner_id), purpose)
            with self._lock:
                self._subkeys[(owner_id, purpose)] = cached
        return cached

    def _aead(self, owner_id: str, purpose: Purpose) -> AESGCM:
        with self._lock:
            cached = self._aeads.get((owner_id, purpose))
        if cached is None:
            cached = AESGCM(self._subkey(owner_id, purpose))
            with self._lock:
                self._aeads[(owner_id, purpose)] = cached
        return cached

    def keyed_checksum(self, owner_id: str, sha256_hex: str) -> str:
        return keyed_checksum(self.user_key(owner_id), sha256_hex)

    def tag(self, owner_id: str, field: str, value: str) -> str:
        """A keyed tag of a metadata value (equal values, equal tags), for equality filters."""
        message = field.encode() + b"\x00" + value.encode("utf-8")
        return hmac.new(self._subkey(owner_id, Purpose.TAGS), message, hashlib.sha256).hexdigest()

    def seal(
        self, owner_id: str, data: bytes, associated: bytes, purpose: Purpose = Purpose.METADATA
    ) -> bytes:
        """`crypto.encrypt_bytes` with the owner's key: the same format, so either opens it."""
        return seal_with(self._aead(owner_id, purpose), data, associated)

    def unseal(
        self, owner_id: str, sealed: bytes, associated: bytes, purpose: Purpose = Purpose.METADATA
    ) -> bytes:
        return open_with(self._aead(owner_id, purpose), sealed, associated)

    # --- blobs -------------------------------------------------------------------------

    def protect_blobs(self, inner: BlobStore, settings: Settings) -> BlobStore:
        """The blob store the application uses: `inner` wrapped with encryption when
        `encryption_at_rest` is on. Records the choice, so that turning encryption off over
        encrypted blobs is refused instead of serving ciphertext."""
        with self.db.write() as s:
            encrypted_before = self.repo.state(s, BLOBS_ENCRYPTED) == "1"
            plaintext = self.repo.state(s, PLAINTEXT_BLOBS) == "1"
            if not settings.encryption_at_rest:
                if encrypted_before:
                    raise EncryptionStateError(
                        "KEEPSAKE_ENCRYPTION_AT_REST is off, but this installation has "
                        "encrypted blobs; turn it back on"
                    )
                if not plaintext:
                    self.repo.set_state(s, PLAINTEXT_BLOBS, "1")
                return inner
            if not encrypted_before:
                self.repo.set_state(s, BLOBS_ENCRYPTED, "1")
        store = EncryptedBlobStore(inner, self.user_key, allow_legacy_plaintext=plaintext)
        self.encrypted_blobs = store
        return store

    def legacy_blobs_pending(self) -> bool:
        store = self.encrypted_blobs
        return store is not None and store.allows_legacy_plaintext

    def encrypt_legacy_blobs(self) -> BlobMigration:
        """Encrypt every blob stored while encryption was off (or before it existed), then
        stop accepting plaintext blobs. Safe to re-run and to interrupt."""
        store = self.encrypted_blobs
        if store is None:
            raise EncryptionStateError("encryption at rest is off: there is nothing to migrate")
        encrypted = already = skipped = 0
        for key in list(store.keys()):
            try:
                if store.encrypt_legacy(key):
                    encrypted += 1
                else:
                    already += 1
            except FileNotFoundError:
                continue  # deleted while we worked
            except UserKeyMissingError:
                # Left behind by a deleted account, or not a per-user blob: nothing can read
                # it, so it is reported and left for the operator rather than guessed at.
                log.warning("blob %s has no owner key; left as it is", key)
                skipped += 1
        with self.db.write() as s:
            self.repo.set_state(s, PLAINTEXT_BLOBS, "0")
        store.refuse_legacy_plaintext()
        return BlobMigration(encrypted, already, skipped)

    def encrypt_legacy_job(self) -> JobResult:
        if not self.legacy_blobs_pending():
            return JobResult.SKIPPED
        result = self.encrypt_legacy_blobs()
        log.info(
            "encrypted %d legacy blobs (%d already encrypted, %d skipped)",
            result.encrypted,
            result.already,
            result.skipped,
        )
        return JobResult.SUCCESS

    # --- rows from before encryption ---------------------------------------------------

    def migrate_legacy_rows(self) -> int:
        """Seal the metadata of library-core rows and key their checksums. Runs at every
        start (it finds nothing once done), before any request can de-duplicate against an
        unkeyed checksum."""
        migrated = 0
        while True:
            with self.db.write() as s:
                assets = self.repo.legacy_assets(s, LEGACY_BATCH)
                uploads = self.repo.legacy_uploads(s, LEGACY_BATCH)
                for asset in assets:
                    records.seal_legacy_asset(self, asset)
                for upload in uploads:
                    records.seal_legacy_upload(self, upload)
            migrated += len(assets) + len(uploads)
            if len(assets) < LEGACY_BATCH and len(uploads) < LEGACY_BATCH:
                return migrated

    # --- rotation ----------------------------------------------------------------------

    def rotate(self, new_key_file: Path | None = None) -> Rotation:
        """Re-wrap every user key under a new master key; blobs stay as they are.

        Key-file mode (the default, or KEEPSAKE_MASTER_KEY_FILE) without `new_key_file`: the
        new key is written beside the key file as `.new`, every row is re-wrapped in one
        transaction, and just before it commits the key file is replaced (the old one kept as
        `.old` until the commit is done). With `new_key_file` (required when the key comes
        from KEEPSAKE_MASTER_KEY) the new key is written there and the operator installs it.
        Re-running after a crash finishes or undoes what was interrupted."""
        key_file = self.keyring.key_file
        if new_key_file is None and key_file is None:
            raise MasterKeyInvalidError(
                "the master key comes from KEEPSAKE_MASTER_KEY; pass --new-key-file to write "
                "the new key to a file, then set KEEPSAKE_MASTER_KEY to it"
            )
        swap = new_key_file is None
        if key_file is not None:
            self._finish_interrupted_swap(key_file)
        target = new_key_file or sibling(_require(key_file), NEW_SUFFIX)
        new = read_master_key_file(target) if target.exists() else create_master_key_file(target)
        self.keyring.add(new)
        with self.db.write() as s:
            old_id = self.repo.state(s, MASTER_KEY_ID, for_update=True) or ""
            rewrapped = 0
            for user_id, wrapped in self.repo.wrapped_keys(s):
                old = self._master_for(wrapped)
                updated = rewrap(old, new, wrapped, user_id)
                if updated != wrapped:
                    self.repo.set_wrapped_key(s, user_id, updated)
                    rewrapped += 1
            self.repo.set_state(s, MASTER_KEY_ID, new.key_id)
            if swap:
                path = _require(key_file)
                old_copy = sibling(path, OLD_SUFFIX)
                _link_or_copy(path, old_copy)
                target.replace(path)
                _fsync_dir(path.parent)
        if swap:
            sibling(_require(key_file), OLD_SUFFIX).unlink(missing_ok=True)
            _fsync_dir(_require(key_file).parent)
        return Rotation(old_id, new.key_id, rewrapped, target if not swap else _require(key_file))

    def _master_for(self, wrapped: str) -> MasterKey:
        key_id = wrapped_key_id(wrapped)
        master = self.keyring.get(key_id)
        if master is None:
            raise WrongMasterKeyError(f"a user key is wrapped by master key {key_id}, not loaded")
        return master

    def _finish_interrupted_swap(self, key_file: Path) -> None:
        """A rotation stopped after replacing the key file: keep the swap if its transaction
        committed, undo it if not."""
        old_copy = sibling(key_file, OLD_SUFFIX)
        if not old_copy.exists():
            return
        with self.db.read() as s:
            state_id = self.repo.state(s, MASTER_KEY_ID)
        current = read_master_key_file(
            key_file, require_private=not self.keyring.operator_supplied_file
        )
        if current.key_id == state_id:
            old_copy.unlink()
        else:
            old_copy.replace(key_file)
        _fsync_dir(key_file.parent)


def _require(path: Path | None) -> Path:
    assert path is not None
    return path


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        # No hard links on this filesystem: a private copy does as well.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, source.read_bytes())
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
