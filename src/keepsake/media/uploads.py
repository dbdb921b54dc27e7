"""Resumable uploads (the tus 1.0 protocol's state): staged bytes on local disk, one row
per upload, committed as an asset by `MediaService.ingest` when the last byte arrives.

Written here rather than taken from a tus server package because the finished file must go
through Keepsake's own ingest (quota, checksum, de-duplication, blob store, encryption)
with the uploader's access checked on every request; the protocol itself is small."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.clock import Clock
from keepsake.config import Settings
from keepsake.crypto import records
from keepsake.errors import Conflict, InvalidInput, KeepsakeError, NotFound, PayloadTooLarge
from keepsake.ids import new_id
from keepsake.jobs.queue import JobResult
from keepsake.media.repository import MediaRepository
from keepsake.media.service import Ingested, MediaService
from keepsake.storage.db import Database
from keepsake.storage.models import Upload

log = logging.getLogger("keepsake.uploads")

EXPIRE_UPLOADS_JOB = "media.expire_uploads"
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}


class ChunkChecksumMismatch(KeepsakeError):
    """tus checksum extension: the chunk is discarded and the client sends it again."""

    status, slug, title = 460, "chunk-checksum-mismatch", "Checksum mismatch"


@dataclass(frozen=True)
class UploadState:
    id: str
    offset: int
    length: int
    expires_at: datetime
    ingested: Ingested | None = None


class UploadService:
    def __init__(
        self,
        db: Database,
        repo: MediaRepository,
        media: MediaService,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.db = db
        self.repo = repo
        self.media = media
        self.settings = settings
        self.clock = clock
        self.dir = settings.data_dir / "uploads"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def _lock(self, upload_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[upload_id]

    def _path(self, upload_id: str) -> Path:
        return self.dir / f"{upload_id}.part"

    def create(
        self,
        principal: Principal,
        length: int,
        *,
        filename: str,
        checksum: str | None,
        file_mtime: datetime | None,
    ) -> UploadState:
        owner_id = require_access(principal, Scope.UPLOAD)
        if length < 0:
            raise InvalidInput("Upload-Length must not be negative.")
        if length > self.settings.upload_max_bytes:
            raise PayloadTooLarge(
                f"Files larger than {self.settings.upload_max_bytes} bytes are not accepted."
            )
        now = self.clock.now()
        upload = Upload(
            id=new_id(),
            owner_id=owner_id,
            length=length,
            offset=0,
            filename="",
            file_mtime=file_mtime,
            created_at=now,
            expires_at=now + timedelta(hours=self.settings.upload_expiry_hours),
        )
        # The file name and the SHA-256 the client declared are sealed, as an asset's are.
        records.seal_upload(
            self.media.keys,
            upload,
            (filename or "unnamed")[:255],
            checksum[:200] if checksum else None,
        )
        self._path(upload.id).touch()
        with self.db.write() as s:
            self.repo.add_upload(s, upload)
        return UploadState(upload.id, 0, length, upload.expires_at)

    def _live(self, owner_id: str, upload_id: str) -> Upload:
        with self.db.read() as s:
            upload = self.repo.upload_of(s, owner_id, upload_id)
        if upload is None or upload.expires_at <= self.clock.now():
            raise NotFound("No such upload, or it expired.")
        return upload

    def status(self, principal: Principal, upload_id: str) -> UploadState:
        owner_id = require_access(principal, Scope.UPLOAD)
        upload = self._live(owner_id, upload_id)
        return UploadState(upload.id, upload.offset, upload.length, upload.expires_at)

    def append(
        self,
        principal: Principal,
        upload_id: str,
        offset: int,
        chunk: Path,
        chunk_checksum: str | None = None,
    ) -> UploadState:
        """Append the bytes in `chunk` at `offset`; commit the asset when the upload is whole.
        `chunk` is the caller's temporary file and is removed here."""
        owner_id = require_access(principal, Scope.UPLOAD)
        try:
            with self._lock(upload_id):
                upload = self._live(owner_id, upload_id)
                if offset != upload.offset:
                    raise Conflict(f"Upload-Offset is {upload.offset}, not {offset}.")
                size = chunk.stat().st_size
                if upload.offset + size > upload.length:
                    raise InvalidInput("The chunk runs past Upload-Length.")
                if chunk_checksum is not None:
                    _verify_chunk(chunk, chunk_checksum)
                part = self._path(upload_id)
                if upload.offset == 0:
                    chunk.replace(part)  # the usual case, one request: no copy
                else:
                    with part.open("r+b") as out, chunk.open("rb") as src:
                        out.seek(upload.offset)
                        while data := src.read(1024 * 1024):
                            out.write(data)
                        out.truncate()
                new_offset = upload.offset + size
                with self.db.write() as s:
                    row = self.repo.upload_of(s, owner_id, upload_id)
                    if row is not None:
                        row.offset = new_offset
                if row is None:  # terminated, expired or purged with its account meanwhile
                    part.unlink(missing_ok=True)
                    raise NotFound("No such upload, or it expired.")
                if new_offset < upload.length:
                    return UploadState(upload_id, new_offset, upload.length, upload.expires_at)
                return self._finish(principal, upload, new_offset)
        finally:
            chunk.unlink(missing_ok=True)

    def _finish(self, principal: Principal, upload: Upload, offset: int) -> UploadState:
        try:
            filename, declared_checksum = records.reveal_upload(self.media.keys, upload)
            ingested = self.media.ingest(
                principal,
                self._path(upload.id),
                filename,
                declared_checksum=declared_checksum,
                file_mtime=upload.file_mtime,
            )
        finally:
            # Whole files are committed or refused; either way the staged bytes go.
            self._discard(upload.id)
        return UploadState(upload.id, offset, upload.length, upload.expires_at, ingested)

    def terminate(self, principal: Principal, upload_id: str) -> None:
        owner_id = require_access(principal, Scope.UPLOAD)
        with self._lock(upload_id):
            self._live(owner_id, upload_id)
            self._discard(upload_id)

    def _discard(self, upload_id: str) -> None:
        with self.db.write() as s:
            self.repo.delete_upload(s, upload_id)
        self._path(upload_id).unlink(missing_ok=True)
        with self._locks_guard:
            self._locks.pop(upload_id, None)

    def expire(self) -> JobResult:
        """Delete uploads that were not finished in time, with their partial bytes, and any
        partial file whose upload is gone (a crash between the two deletes, a chunk that
        landed as its account was purged) once it is older than an upload may live."""
        now = self.clock.now()
        with self.db.read() as s:
            expired = self.repo.expired_uploads(s, now)
        for upload in expired:
            self._discard(upload.id)
        # Listed before the rows are read: an upload created after the listing is not in
        # it, and one created before has its row (files are made just before their rows,
        # so a file younger than the expiry is never swept).
        parts = list(self.dir.glob("*.part"))
        with self.db.read() as s:
            known = self.repo.upload_ids(s)
        oldest = now.timestamp() - self.settings.upload_expiry_hours * 3600
        for part in parts:
            with contextlib.suppress(FileNotFoundError):
                if part.stem not in known and part.stat().st_mtime < oldest:
                    part.unlink()
        return JobResult.SUCCESS


def _verify_chunk(chunk: Path, header: str) -> None:
    try:
        algorithm, encoded = header.strip().split(" ", 1)
        expected = base64.b64decode(encoded, validate=True)
        digest = CHECKSUM_ALGORITHMS[algorithm.lower()]()
    except (ValueError, KeyError) as exc:
        raise InvalidInput("Upload-Checksum must be '<sha1|sha256|md5> <base64 digest>'.") from exc
    with chunk.open("rb") as f:
        while data := f.read(1024 * 1024):
            digest.update(data)
    if digest.digest() != expected:
        raise ChunkChecksumMismatch("The chunk's checksum does not match; send it again.")
