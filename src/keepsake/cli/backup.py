"""`keepsake backup`: walk a folder, ask the server which photos it has, upload the rest
with resumable (tus) uploads, and remember checksums so a re-run reads nothing unchanged."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

SUPPORTED_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif"}
)
CHUNK_BYTES = 8 * 1024 * 1024  # one PATCH per 8 MiB: progress moves, a retry resends little
EXISTS_BATCH = 1000
HASH_WORKERS = 4


class BackupError(Exception):
    """The backup cannot start or go on (server unreachable, key rejected)."""


@dataclass
class Summary:
    files: int = 0
    unsupported: Counter[str] = field(default_factory=Counter)
    already: int = 0
    uploaded: int = 0
    duplicates: int = 0
    bytes_uploaded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        lines = [
            f"{self.files} photos: {self.uploaded} uploaded ({self.bytes_uploaded / 1e6:.1f} MB), "
            f"{self.already + self.duplicates} already on the server, "
            f"{len(self.failed)} failed, in {self.seconds:.1f} s",
        ]
        if self.unsupported:
            kinds = ", ".join(f"{n} {ext or '(none)'}" for ext, n in self.unsupported.most_common())
            lines.append(f"skipped {sum(self.unsupported.values())} unsupported files: {kinds}")
        lines.extend(f"failed: {path}: {why}" for path, why in self.failed)
        return "\n".join(lines)


class ChecksumCache:
    """path + size + mtime -> SHA-256, and checksum -> unfinished upload URL, on local disk."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, sha256 TEXT)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS uploads (server TEXT, sha256 TEXT, url TEXT, "
            "PRIMARY KEY (server, sha256))"
        )

    def checksum(self, path: Path, size: int, mtime_ns: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT sha256 FROM files WHERE path = ? AND size = ? AND mtime_ns = ?",
                (str(path), size, mtime_ns),
            ).fetchone()
        return str(row[0]) if row else None

    def remember(self, entries: list[tuple[Path, int, int, str]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                [(str(p), size, mtime, sha) for p, size, mtime, sha in entries],
            )
            self._db.execute("COMMIT")

    def upload_url(self, server: str, sha256: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT url FROM uploads WHERE server = ? AND sha256 = ?", (server, sha256)
            ).fetchone()
        return str(row[0]) if row else None

    def set_upload_url(self, server: str, sha256: str, url: str | None) -> None:
        with self._lock:
            if url is None:
                self._db.execute(
                    "DELETE FROM uploads WHERE server = ? AND sha256 = ?", (server, sha256)
                )
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?)", (server, sha256, url)
                )

    def close(self) -> None:
        self._db.close()


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "keepsake" / "backup.sqlite"


@dataclass(frozen=True)
class _Candidate:
    path: Path
    size: int
    mtime_ns: int
    sha256: str = ""


def _walk(directory: Path, summary: Summary) -> Iterator[_Candidate]:
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            suffix = path.suffix.lower()
            if suffix not in SUPPORTED_SUFFIXES:
                summary.unsupported[suffix] += 1
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            yield _Candidate(path.resolve(), stat.st_size, stat.st_mtime_ns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def run_backup(
    directory: Path,
    server: str,
    api_key: str,
    *,
    cache_path: Path | None = None,
    workers: int = 2,
    show_progress: bool = True,
) -> Summary:
    started = time.monotonic()
    server = server.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"}
    summary = Summary()
    cache = ChecksumCache(cache_path or default_cache_path())
    try:
        with httpx.Client(base_url=server, headers=headers, timeout=60) as http:
            _check_server(http)
            candidates = _hash_all(list(_walk(directory, summary)), cache)
            summary.files = len(candidates)
            existing = _existing(http, [c.sha256 for c in candidates])
            todo: dict[str, _Candidate] = {}
            for c in candidates:
                if c.sha256 in existing:
                    summary.already += 1
                elif c.sha256 in todo:
                    summary.duplicates += 1  # the same photo twice in the folder
                else:
                    todo[c.sha256] = c
            _upload_all(
                list(todo.values()), server, headers, cache, workers, summary, show_progress
            )
    finally:
        cache.close()
        summary.seconds = time.monotonic() - started
    return summary


def _check_server(http: httpx.Client) -> None:
    try:
        response = http.get("/api/users/me")
    except httpx.HTTPError as exc:
        raise BackupError(f"cannot reach the server: {exc}") from exc
    if response.status_code == 401:
        raise BackupError("the server rejected the API key")
    if response.status_code != 200:
        raise BackupError(f"the server answered {response.status_code}")


def _hash_all(candidates: list[_Candidate], cache: ChecksumCache) -> list[_Candidate]:
    known: list[_Candidate] = []
    unknown: list[_Candidate] = []
    for c in candidates:
        sha = cache.checksum(c.path, c.size, c.mtime_ns)
        if sha:
            known.append(_Candidate(c.path, c.size, c.mtime_ns, sha))
        else:
            unknown.append(c)
    with ThreadPoolExecutor(HASH_WORKERS) as pool:
        hashed = [
            _Candidate(c.path, c.size, c.mtime_ns, sha)
            for c, sha in zip(unknown, pool.map(lambda c: _sha256(c.path), unknown), strict=True)
        ]
    cache.remember([(c.path, c.size, c.mtime_ns, c.sha256) for c in hashed])
    return known + hashed


def _existing(http: httpx.Client, checksums: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(checksums), EXISTS_BATCH):
        response = http.post(
            "/api/assets/exists", json={"checksums": checksums[start : start + EXISTS_BATCH]}
        )
        if response.status_code != 200:
            raise BackupError(f"the server answered {response.status_code} to a checksum query")
        found.update(response.json()["existing"])
    return found


def _problem_detail(content: Any) -> str:
    try:
        body = json.loads(content)
        return str(body.get("detail") or body.get("title"))
    except (ValueError, TypeError, AttributeError):
        return "upload failed"


def _upload_all(
    todo: list[_Candidate],
    server: str,
    headers: dict[str, str],
    cache: ChecksumCache,
    workers: int,
    summary: Summary,
    show_progress: bool,
) -> None:
    if not todo:
        return
    stop = threading.Event()
    total_bytes = sum(c.size for c in todo)
    columns = (
        TextColumn("[bold]uploading {task.fields[files]} files"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        files_done = 0
        task = progress.add_task("upload", total=total_bytes, files=f"0/{len(todo)}")
        lock = threading.Lock()

        def advance(n: int) -> None:
            with lock:
                progress.advance(task, n)

        def one(c: _Candidate) -> tuple[_Candidate, str | None, bool]:
            if stop.is_set():
                return c, "interrupted", False
            return _upload_one(c, server, headers, cache, advance, stop)

        pool = ThreadPoolExecutor(workers)
        try:
            futures = [pool.submit(one, c) for c in todo]
            for future in as_completed(futures):
                c, error, duplicate = future.result()
                files_done += 1
                with lock:
                    progress.update(task, files=f"{files_done}/{len(todo)}")
                if error:
                    summary.failed.append((str(c.path), error))
                elif duplicate:
                    summary.duplicates += 1
                else:
                    summary.uploaded += 1
                    summary.bytes_uploaded += c.size
        except KeyboardInterrupt:
            # In-flight uploads stop at their next chunk and resume on the next run.
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)


def _upload_one(
    c: _Candidate,
    server: str,
    headers: dict[str, str],
    cache: ChecksumCache,
    advance: Any,
    stop: threading.Event,
) -> tuple[_Candidate, str | None, bool]:
    client = TusClient(f"{server}/api/uploads", headers=headers)
    mtime = datetime.fromtimestamp(c.mtime_ns / 1e9, tz=UTC).isoformat()
    metadata = {"filename": c.path.name, "checksum": c.sha256, "mtime": mtime}
    if c.size == 0:
        return c, "empty file", False
    url = cache.upload_url(server, c.sha256)
    try:
        with c.path.open("rb") as stream:
            return _send(client, c, stream, metadata, url, server, cache, advance, stop)
    except TusUploadFailed as exc:
        cache.set_upload_url(server, c.sha256, None)
        return c, _problem_detail(exc.response_content), False
    except (TusCommunicationError, OSError) as exc:
        return c, f"network error: {exc}", False


def _send(
    client: TusClient,
    c: _Candidate,
    stream: BinaryIO,
    metadata: dict[str, str],
    url: str | None,
    server: str,
    cache: ChecksumCache,
    advance: Any,
    stop: threading.Event,
) -> tuple[_Candidate, str | None, bool]:
    uploader = _resume_or_create(client, stream, metadata, url)
    cache.set_upload_url(server, c.sha256, uploader.url)
    advance(uploader.offset)
    while uploader.offset < c.size:
        if stop.is_set():
            return c, "interrupted", False
        before = uploader.offset
        uploader.upload_chunk()
        advance(uploader.offset - before)
    request = getattr(uploader, "request", None)
    response = request.response_headers if request is not None else {}
    cache.set_upload_url(server, c.sha256, None)
    return c, None, response.get("keepsake-duplicate") == "true"


def _resume_or_create(
    client: TusClient, stream: BinaryIO, metadata: dict[str, str], url: str | None
) -> Any:
    """Resume the upload a previous run left at `url`, or start a new one."""
    options: dict[str, Any] = {
        "chunk_size": CHUNK_BYTES,
        "metadata": metadata,
        "retries": 3,
        "retry_delay": 1,
    }
    if url:
        with contextlib.suppress(TusCommunicationError, TusUploadFailed):
            return client.uploader(file_stream=stream, url=url, **options)
        stream.seek(0)
    uploader = client.uploader(file_stream=stream, **options)
    uploader.set_url(uploader.create_url())
    uploader.offset = 0
    return uploader
