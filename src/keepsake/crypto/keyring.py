"""The master keys a running Keepsake holds: the configured one (environment, secret file, or
`data_dir/master.key`) plus the files an interrupted rotation leaves beside a key file, so
that every user key in the database can be unwrapped whatever moment a rotation stopped at.

Rotation in key-file mode (see `KeyService.rotate`) writes `<key file>.new`, re-wraps every
user key in one transaction and, before committing, links the current file to
`<key file>.old` and renames `.new` over the key file. Whichever step a crash interrupts,
the key that wraps the committed rows is on disk under one of those three names.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from keepsake.crypto.errors import MasterKeyInvalidError, MasterKeyMissingError
from keepsake.crypto.keys import (
    MASTER_KEY_FILENAME,
    MasterKey,
    load_or_create_master_key,
    read_master_key_file,
)

log = logging.getLogger("keepsake.crypto")

NEW_SUFFIX = ".new"
OLD_SUFFIX = ".old"


def sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


class Keyring:
    """Master keys by key id. Thread-safe; reloads the key files when asked for an id it does
    not hold, so a server keeps working after `keepsake keys rotate` ran beside it."""

    def __init__(self, data_dir: Path, env_value: str | None, file_path: Path | None) -> None:
        self.data_dir = data_dir
        self._env_value = env_value
        self._file_path = file_path
        self._keys: dict[str, MasterKey] = {}
        self._primary: MasterKey | None = None
        self._lock = threading.Lock()

    @property
    def key_file(self) -> Path | None:
        """The file the master key lives in; None when it comes from the environment."""
        if self._env_value is not None:
            return None
        return self._file_path or self.data_dir / MASTER_KEY_FILENAME

    @property
    def operator_supplied_file(self) -> bool:
        """True for KEEPSAKE_MASTER_KEY_FILE: a secret file the operator manages, which may be
        group-readable (Docker and Kubernetes secrets are)."""
        return self._env_value is None and self._file_path is not None

    @property
    def primary(self) -> MasterKey:
        if self._primary is None:
            raise MasterKeyMissingError("the master key is not loaded")
        return self._primary

    def load(self, encrypted_data_exists: bool) -> MasterKey:
        """Load (or, on a fresh installation, create) the configured master key, and any key a
        rotation left beside the key file."""
        primary = load_or_create_master_key(
            self.data_dir, self._env_value, self._file_path, encrypted_data_exists
        )
        with self._lock:
            self._primary = primary
            self._keys[primary.key_id] = primary
            self._load_siblings()
        return primary

    def add(self, key: MasterKey) -> None:
        with self._lock:
            self._keys[key.key_id] = key

    def get(self, key_id: str) -> MasterKey | None:
        """The master key with this id, reading the key files again if it is not loaded."""
        with self._lock:
            key = self._keys.get(key_id)
            if key is None and self.key_file is not None:
                self._reload_files()
                key = self._keys.get(key_id)
            return key

    def known_ids(self) -> set[str]:
        with self._lock:
            return set(self._keys)

    def _reload_files(self) -> None:
        path = self.key_file
        assert path is not None
        try:
            key = read_master_key_file(path, require_private=not self.operator_supplied_file)
        except (MasterKeyMissingError, MasterKeyInvalidError) as exc:
            log.warning("cannot re-read the master key file: %s", exc)
        else:
            self._keys[key.key_id] = key
        self._load_siblings()

    def _load_siblings(self) -> None:
        path = self.key_file
        if path is None:
            return
        for suffix in (NEW_SUFFIX, OLD_SUFFIX):
            candidate = sibling(path, suffix)
            if candidate.is_file():
                try:
                    key = read_master_key_file(candidate, require_private=True)
                except (MasterKeyMissingError, MasterKeyInvalidError) as exc:
                    log.warning("ignoring %s: %s", candidate, exc)
                    continue
                self._keys[key.key_id] = key
