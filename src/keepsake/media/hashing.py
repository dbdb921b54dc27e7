"""Content checksums."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def normalise_sha256(value: str) -> str | None:
    """A client's SHA-256 as lower-case hex, or None when it is not one."""
    value = value.strip().lower()
    return value if _SHA256_HEX.match(value) else None
