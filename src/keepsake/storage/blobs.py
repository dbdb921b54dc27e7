"""Where originals and derived images live. All blob IO in Keepsake goes through `BlobStore`
so the local directory can be swapped for object storage or wrapped with encryption."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


def check_key(key: str) -> str:
    """Keys are made by Keepsake, never from user input; refuse anything path-like anyway."""
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"invalid blob key: {key!r}")
    return key


def blob_key(kind: str, owner_id: str, name: str) -> str:
    """The one place a blob's key is made: `<kind>/<owner>/<name>`."""
    return check_key(f"{kind}/{owner_id}/{name}")


def owner_of(key: str) -> str:
    return key.split("/")[1]


class BlobStore(Protocol):
    """Durable bytes by key."""

    def put(self, key: str, source: BinaryIO) -> int:
        """Store everything `source` yields under `key`; return the byte count. Durable when
        it returns: a crash afterwards never loses the blob, a crash before leaves nothing."""
        ...

    def read(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """Yield bytes `[start, stop)` of the blob (to the end when `stop` is None)."""
        ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; removing a missing blob is not an error."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...


class LocalBlobStore:
    """Blobs as files under one directory: written to a temporary name, fsynced, renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, source: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / uuid.uuid4().hex
        written = 0
        try:
            with tmp.open("wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return written

    def read(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        with path.open("rb") as f:
            f.seek(start)
            remaining = None if stop is None else max(0, stop - start)
            while remaining is None or remaining > 0:
                chunk = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and self._tmp not in path.parents:
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key


class MemoryBlobStore:
    """A BlobStore in a dict, for small tests."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, source: BinaryIO) -> int:
        data = source.read()
        with self._lock:
            self._blobs[check_key(key)] = data
        return len(data)

    def read(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        yield self._blobs[key][start:stop]

    def size(self, key: str) -> int:
        return len(self._blobs[key])

    def exists(self, key: str) -> bool:
        return key in self._blobs

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(key, None)

    def keys(self, prefix: str = "") -> Iterator[str]:
        yield from sorted(k for k in self._blobs if k.startswith(prefix))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
