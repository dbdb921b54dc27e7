"""Use cases of the library: ingest, the timeline, assets, albums, trash and usage."""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.exc import IntegrityError

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.clock import Clock
from keepsake.config import Settings
from keepsake.crypto import records
from keepsake.crypto.service import KeyService
from keepsake.errors import (
    ChecksumMismatch,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
)
from keepsake.ids import new_id
from keepsake.jobs.queue import JobQueue, JobResult
from keepsake.media import derive, exif, formats
from keepsake.media.cursor import decode_cursor, encode_cursor
from keepsake.media.errors import AlbumOrderMismatch
from keepsake.media.hashing import normalise_sha256, sha256_file
from keepsake.media.repository import MediaRepository
from keepsake.media.schemas import AlbumOrder
from keepsake.storage.blobs import BlobStore, blob_key
from keepsake.storage.db import Database
from keepsake.storage.models import Album, Asset

log = logging.getLogger("keepsake.media")

DERIVE_JOB = "media.derive"
RECONCILE_JOB = "media.reconcile"
PURGE_TRASH_JOB = "media.purge_trash"

STEP_THUMBNAIL = "thumbnail"
STEP_PREVIEW = "preview"
DERIVED_STEPS = (STEP_THUMBNAIL, STEP_PREVIEW)
# Done by the faces capability after the preview, only for owners with face recognition on
# (faces.service reconciles it); not in DERIVED_STEPS, which derive_asset makes.
STEP_FACES = "faces"

TIMELINE_MAX_PAGE = 500
ORIGINALS, THUMBNAILS, PREVIEWS = "originals", "thumbnails", "previews"


@dataclass(frozen=True)
class Ingested:
    asset: Asset
    duplicate: bool


@dataclass(frozen=True)
class BlobRead:
    """A stored file ready to stream: its size, type and entity tag, and a way to read it."""

    size: int
    mime_type: str
    etag: str
    key: str
    blobs: BlobStore

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        return self.blobs.read(self.key, start, stop)


class MediaService:
    def __init__(
        self,
        db: Database,
        repo: MediaRepository,
        blobs: BlobStore,
        jobs: JobQueue,
        settings: Settings,
        clock: Clock,
        keys: KeyService,
    ) -> None:
        self.db = db
        self.repo = repo
        self.blobs = blobs
        self.jobs = jobs
        self.settings = settings
        self.clock = clock
        # Asset metadata is sealed with the owner's key: rows are revealed after loading
        # (`reveal`) and sealed when written (crypto.records).
        self.keys = keys
        # Called with (owner id, asset id) once an asset's preview exists (the face job).
        self.on_preview_made: list[Callable[[str, str], object]] = []
        self.staging = settings.data_dir / "staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    # --- ingest ------------------------------------------------------------------------

    def new_staging_path(self) -> Path:
        return self.staging / f"{new_id()}.part"

    def ingest(
        self,
        principal: Principal,
        staged: Path,
        filename: str,
        *,
        declared_checksum: str | None = None,
        file_mtime: datetime | None = None,
    ) -> Ingested:
        """Commit a fully received file as an asset of the caller, or explain why not.

        The original is durably stored before its row is written; any failure removes what
        was written, so a failed upload leaves nothing. The staged file is the caller's."""
        owner_id = require_access(principal, Scope.UPLOAD)
        filename = _clean_filename(filename)
        size = staged.stat().st_size
        if size > self.settings.upload_max_bytes:
            raise PayloadTooLarge(_too_large_message(self.settings.upload_max_bytes))
        checksum = sha256_file(staged)
        if declared_checksum is not None:
            declared = normalise_sha256(declared_checksum)
            if declared is None:
                raise InvalidInput("The checksum must be a SHA-256 in hex.")
            if declared != checksum:
                raise ChecksumMismatch(
                    "The file's SHA-256 differs from the one sent: it was damaged on the way."
                )
        # De-duplication compares keyed checksums: the database never holds the SHA-256.
        checksum_key = self.keys.keyed_checksum(owner_id, checksum)
        with self.db.read() as s:
            existing = self.repo.asset_by_checksum(s, owner_id, checksum_key)
        if existing is not None:
            self.reveal([existing])
            return Ingested(self._restore_if_trashed(owner_id, existing), duplicate=True)

        probe = formats.probe_image(staged, self.settings.max_image_pixels)
        meta = exif.read_metadata(staged)
        now = self.clock.now()
        if meta.taken_at is not None:
            taken_at, source = meta.taken_at, "exif"
        elif file_mtime is not None:
            taken_at, source = file_mtime, "file"
        else:
            taken_at, source = now, "upload"
        asset = Asset(
            id=new_id(),
            owner_id=owner_id,
            checksum=checksum,
            size=size,
            original_filename=filename,
            mime_type=probe.mime_type,
            width=meta.width or probe.width,
            height=meta.height or probe.height,
            taken_at=taken_at,
            taken_at_offset_minutes=meta.offset_minutes,
            taken_at_source=source,
            make=meta.make,
            model=meta.model,
            lens=meta.lens,
            latitude=meta.latitude,
            longitude=meta.longitude,
            orientation=meta.orientation,
            exif=dict(meta.details) or None,
            is_favorite=False,
            created_at=now,
        )
        records.seal_asset(self.keys, asset)
        self._check_quota(owner_id, size)
        key = blob_key(ORIGINALS, owner_id, asset.id)
        with staged.open("rb") as source_file:
            self.blobs.put(key, source_file)
        try:
            with self.db.write() as s:
                user = self.repo.user_for_update(s, owner_id)
                if user is None:
                    raise NotFound()
                if user.quota_bytes is not None and user.usage_bytes + size > user.quota_bytes:
                    raise QuotaExceeded(_quota_message(user.quota_bytes, user.usage_bytes, size))
                self.repo.add_asset(s, asset)
                self.repo.add_usage(s, owner_id, size)
        except IntegrityError:
            # The same file arrived twice at once; the other upload won.
            self.blobs.delete(key)
            with self.db.read() as s:
                winner = self.repo.asset_by_checksum(s, owner_id, checksum_key)
            if winner is None:
                raise
            self.reveal([winner])
            return Ingested(winner, duplicate=True)
        except BaseException:
            self.blobs.delete(key)
            raise
        self.jobs.enqueue(DERIVE_JOB, asset.id)
        return Ingested(asset, duplicate=False)

    def _check_quota(self, owner_id: str, size: int) -> None:
        with self.db.read() as s:
            user = self.repo.user_for_update(s, owner_id)
            if user is None:
                raise NotFound()
            if user.quota_bytes is not None and user.usage_bytes + size > user.quota_bytes:
                raise QuotaExceeded(_quota_message(user.quota_bytes, user.usage_bytes, size))

    def _restore_if_trashed(self, owner_id: str, asset: Asset) -> Asset:
        """Uploading a photo that is in the trash brings it back: the user wants it kept."""
        if asset.trashed_at is None:
            return asset
        with self.db.write() as s:
            self.repo.set_trashed(s, owner_id, [asset.id], None)
        asset.trashed_at = None
        return asset

    def existing_checksums(self, principal: Principal, checksums: Sequence[str]) -> dict[str, str]:
        """SHA-256 -> asset id for those of `checksums` in the caller's library, looked up by
        their keyed form."""
        owner_id = require_access(principal, Scope.READ)
        wanted = {c for c in (normalise_sha256(x) for x in checksums) if c is not None}
        by_key = {self.keys.keyed_checksum(owner_id, c): c for c in sorted(wanted)}
        with self.db.read() as s:
            found = self.repo.existing_checksums(s, owner_id, list(by_key))
        return {by_key[key]: asset_id for key, asset_id in found.items()}

    def reveal(self, assets: Sequence[Asset]) -> list[Asset]:
        """Fill in the sealed metadata (SHA-256, file name, camera, place, EXIF) of rows just
        loaded; every method that hands out assets calls it."""
        records.reveal_assets(self.keys, assets)
        return list(assets)

    # --- timeline and assets -----------------------------------------------------------

    def timeline(
        self,
        principal: Principal,
        *,
        cursor: str | None = None,
        limit: int = 100,
        taken_from: datetime | None = None,
        taken_to: datetime | None = None,
        make: str | None = None,
        model: str | None = None,
        favorites_only: bool = False,
    ) -> tuple[list[Asset], str | None]:
        owner_id = require_access(principal, Scope.READ)
        if not 1 <= limit <= TIMELINE_MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {TIMELINE_MAX_PAGE}.")
        before = decode_cursor(cursor) if cursor else None
        with self.db.read() as s:
            rows = self.repo.timeline(
                s,
                owner_id,
                limit=limit + 1,
                before=before,
                taken_from=taken_from,
                taken_to=taken_to,
                # Make and model are stored only as keyed tags; filter on the same tags.
                make=records.make_tag(self.keys, owner_id, make) if make else None,
                model=records.model_tag(self.keys, owner_id, model) if model else None,
                favorites_only=favorites_only,
            )
        self.reveal(rows[:limit])
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return rows[:limit], next_cursor

    def asset(self, principal: Principal, asset_id: str) -> tuple[Asset, set[str]]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            asset = self.repo.asset_of(s, owner_id, asset_id)
            if asset is None:
                raise NotFound("No such asset.")
            steps = self.repo.steps_of(s, asset_id)
        self.reveal([asset])
        return asset, steps

    def original(self, principal: Principal, asset_id: str) -> tuple[Asset, BlobRead]:
        asset, _ = self.asset(principal, asset_id)
        key = blob_key(ORIGINALS, asset.owner_id, asset.id)
        assert asset.checksum is not None
        return asset, BlobRead(asset.size, asset.mime_type, asset.checksum, key, self.blobs)

    def read_derived(self, principal: Principal, asset_id: str, kind: str) -> BlobRead:
        asset, steps = self.asset(principal, asset_id)
        step, prefix, mime = {
            "thumbnail": (STEP_THUMBNAIL, THUMBNAILS, "image/webp"),
            "preview": (STEP_PREVIEW, PREVIEWS, "image/jpeg"),
        }[kind]
        if step not in steps:
            raise NotFound(f"The {kind} is not made yet.")
        key = blob_key(prefix, asset.owner_id, asset.id)
        etag = f"{(asset.checksum or asset.id)[:16]}-{kind}"
        return BlobRead(self.blobs.size(key), mime, etag, key, self.blobs)

    def shared_file(self, asset: Asset, kind: str) -> BlobRead:
        """The original, thumbnail or preview of another user's asset, for keepsake.sharing,
        which has checked the caller's grant (share, link or partner) itself. The entity tag
        is made from the asset id, not the checksum, which stays the owner's to know."""
        if kind == "original":
            key = blob_key(ORIGINALS, asset.owner_id, asset.id)
            return BlobRead(asset.size, asset.mime_type, f"{asset.id}-original", key, self.blobs)
        step, prefix, mime = {
            "thumbnail": (STEP_THUMBNAIL, THUMBNAILS, "image/webp"),
            "preview": (STEP_PREVIEW, PREVIEWS, "image/jpeg"),
        }[kind]
        with self.db.read() as s:
            if step not in self.repo.steps_of(s, asset.id):
                raise NotFound(f"The {kind} is not made yet.")
        key = blob_key(prefix, asset.owner_id, asset.id)
        return BlobRead(self.blobs.size(key), mime, f"{asset.id}-{kind}", key, self.blobs)

    def update_asset(
        self, principal: Principal, asset_id: str, *, is_favorite: bool | None
    ) -> Asset:
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            asset = self.repo.asset_of(s, owner_id, asset_id)
            if asset is None:
                raise NotFound("No such asset.")
            if is_favorite is not None:
                asset.is_favorite = is_favorite
        return self.reveal([asset])[0]

    # --- trash -------------------------------------------------------------------------

    def trash(self, principal: Principal, asset_ids: Sequence[str]) -> int:
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            assets = self.repo.assets_of(s, owner_id, asset_ids)
            if len(set(asset_ids)) == 1 and not assets:
                raise NotFound("No such asset.")
            owned = [a.id for a in assets if not a.trashed_at]
            return self.repo.set_trashed(s, owner_id, owned, self.clock.now())

    def restore(self, principal: Principal, asset_ids: Sequence[str]) -> int:
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            return self.repo.set_trashed(s, owner_id, list(asset_ids), None)

    def list_trash(self, principal: Principal) -> list[Asset]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            return self.reveal(self.repo.trashed(s, owner_id))

    def empty_trash(self, principal: Principal) -> int:
        owner_id = require_access(principal, Scope.FULL)
        with self.db.read() as s:
            assets = self.repo.trashed(s, owner_id)
        return self._purge(assets)

    def purge_expired_trash(self) -> JobResult:
        cutoff = self.clock.now() - timedelta(days=self.settings.trash_retention_days)
        while True:
            with self.db.read() as s:
                assets = self.repo.trashed_before(s, cutoff)
            if not assets:
                return JobResult.SUCCESS
            self._purge(assets)

    def _purge(self, assets: Sequence[Asset]) -> int:
        """Rows first, then bytes: a crash in between leaves unreferenced files, never a row
        that points at nothing."""
        if not assets:
            return 0
        with self.db.write() as s:
            self.repo.delete_assets(s, assets)
        for asset in assets:
            for prefix in (ORIGINALS, THUMBNAILS, PREVIEWS):
                self.blobs.delete(blob_key(prefix, asset.owner_id, asset.id))
        return len(assets)

    # --- albums ------------------------------------------------------------------------

    def create_album(self, principal: Principal, name: str) -> Album:
        owner_id = require_access(principal, Scope.FULL)
        now = self.clock.now()
        album = Album(
            id=new_id(),
            owner_id=owner_id,
            name=name.strip(),
            sort_order=AlbumOrder.NEWEST_FIRST.value,
            created_at=now,
            updated_at=now,
        )
        with self.db.write() as s:
            self.repo.add_album(s, album)
        return album

    def albums(self, principal: Principal) -> list[tuple[Album, int]]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            return self.repo.albums_of(s, owner_id)

    def album(self, principal: Principal, album_id: str) -> tuple[Album, list[Asset]]:
        """The caller's album and their own photos in it. Photos members of a shared album
        added are theirs: keepsake.sharing hands those out, with their ledger entries."""
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            album = self.repo.album_of(s, owner_id, album_id)
            if album is None:
                raise NotFound("No such album.")
            assets = [a for a in self.repo.album_assets(s, album) if a.owner_id == owner_id]
        return album, self.reveal(assets)

    def update_album(
        self,
        principal: Principal,
        album_id: str,
        *,
        name: str | None = None,
        cover_asset_id: str | None = None,
        order: AlbumOrder | None = None,
    ) -> Album:
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            album = self.repo.album_of(s, owner_id, album_id)
            if album is None:
                raise NotFound("No such album.")
            if name is not None:
                album.name = name.strip()
            if cover_asset_id is not None:
                if cover_asset_id not in self.repo.album_asset_ids(s, album_id):
                    raise InvalidInput("The cover must be a photo in the album.")
                album.cover_asset_id = cover_asset_id
            if order is not None:
                album.sort_order = order.value
            album.updated_at = self.clock.now()
            return album

    def arrange_album(self, principal: Principal, album_id: str, asset_ids: Sequence[str]) -> Album:
        """Put the album's photos in the order of `asset_ids` and show them in that order
        (the album's order becomes manual). `asset_ids` names every photo the album shows,
        members' photos included, each once; anything else changes nothing. Photos in a
        trash are not shown, so not named: each keeps its place among the others, and comes
        back there if restored."""
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            album = self.repo.album_of(s, owner_id, album_id)
            if album is None:
                raise NotFound("No such album.")
            places = self.repo.album_places(s, album_id)
            shown = [asset_id for asset_id, trashed in places if not trashed]
            if len(asset_ids) != len(shown) or set(asset_ids) != set(shown):
                raise AlbumOrderMismatch(_mismatch(shown, asset_ids))
            # The shown photos take the shown places in the new order; trashed ones stay put.
            arranged = iter(asset_ids)
            order = [asset_id if trashed else next(arranged) for asset_id, trashed in places]
            self.repo.set_album_places(s, album_id, order)
            album.sort_order = AlbumOrder.MANUAL.value
            album.updated_at = self.clock.now()
            return album

    def delete_album(self, principal: Principal, album_id: str) -> None:
        """Deleting an album never deletes its photos."""
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            album = self.repo.album_of(s, owner_id, album_id)
            if album is None:
                raise NotFound("No such album.")
            self.repo.delete_album(s, album)

    def add_to_album(self, principal: Principal, album_id: str, asset_ids: Sequence[str]) -> int:
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            album = self.repo.album_of(s, owner_id, album_id)
            if album is None:
                raise NotFound("No such album.")
            owned = {a.id for a in self.repo.assets_of(s, owner_id, asset_ids)}
            missing = [a for a in asset_ids if a not in owned]
            if missing:
                raise NotFound(f"No such asset: {missing[0]}")
            added = self.repo.add_to_album(s, album_id, list(asset_ids), self.clock.now())
            if album.cover_asset_id is None and asset_ids:
                album.cover_asset_id = asset_ids[0]
            album.updated_at = self.clock.now()
            return added

    def remove_from_album(
        self, principal: Principal, album_id: str, asset_ids: Sequence[str]
    ) -> int:
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            album = self.repo.album_of(s, owner_id, album_id)
            if album is None:
                raise NotFound("No such album.")
            removed = self.repo.remove_from_album(s, album_id, asset_ids)
            if album.cover_asset_id in asset_ids:
                album.cover_asset_id = None
            album.updated_at = self.clock.now()
            return removed

    def delete_blobs_of(self, owner_id: str) -> int:
        """Remove every file of a deleted account (its rows are gone already)."""
        removed = 0
        for prefix in (ORIGINALS, THUMBNAILS, PREVIEWS):
            for key in list(self.blobs.keys(f"{prefix}/{owner_id}/")):
                self.blobs.delete(key)
                removed += 1
        return removed

    # --- usage -------------------------------------------------------------------------

    def usage(self, principal: Principal) -> tuple[int, int, int, int | None]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            count, total, trash = self.repo.usage(s, owner_id)
            user = self.repo.user_for_update(s, owner_id)
            return count, total, trash, user.quota_bytes if user else None

    # --- jobs --------------------------------------------------------------------------

    def derive_asset(self, asset_id: str) -> JobResult:
        """Make the thumbnail and preview of one asset with one decode. Safe to re-run."""
        with self.db.read() as s:
            asset = self.repo.asset_by_id(s, asset_id)
            done = self.repo.steps_of(s, asset_id) if asset else set()
        if asset is None or asset.trashed_at is not None:
            return JobResult.SKIPPED
        if all(step in done for step in DERIVED_STEPS):
            return JobResult.SKIPPED
        key = blob_key(ORIGINALS, asset.owner_id, asset.id)
        with tempfile.NamedTemporaryFile(dir=self.staging, suffix=".derive") as tmp:
            for chunk in self.blobs.read(key):
                tmp.write(chunk)
            tmp.flush()
            made = derive.make_derivatives(
                Path(tmp.name),
                thumbnail_size=self.settings.thumbnail_size,
                preview_size=self.settings.preview_size,
                max_pixels=self.settings.max_image_pixels,
            )
        self.blobs.put(blob_key(THUMBNAILS, asset.owner_id, asset.id), io.BytesIO(made.thumbnail))
        self.blobs.put(blob_key(PREVIEWS, asset.owner_id, asset.id), io.BytesIO(made.preview))
        with self.db.write() as s:
            if self.repo.asset_by_id(s, asset_id) is None:
                deleted = True
            else:
                deleted = False
                for step in DERIVED_STEPS:
                    self.repo.mark_step(s, asset_id, step, self.clock.now())
        if deleted:  # purged while we worked: take our files back
            for prefix in (THUMBNAILS, PREVIEWS):
                self.blobs.delete(blob_key(prefix, asset.owner_id, asset.id))
            return JobResult.SKIPPED
        for hook in self.on_preview_made:
            hook(asset.owner_id, asset.id)
        return JobResult.SUCCESS

    def reconcile(self) -> JobResult:
        """Re-enqueue every derived step that is missing, whatever lost the first job."""
        for step in DERIVED_STEPS:
            with self.db.read() as s:
                missing = self.repo.assets_missing_step(s, step)
            for asset_id in missing:
                self.jobs.enqueue(DERIVE_JOB, asset_id)
        return JobResult.SUCCESS


def _too_large_message(limit: int) -> str:
    return f"Files larger than {limit} bytes are not accepted."


def _quota_message(quota: int, used: int, size: int) -> str:
    return f"This file needs {size} bytes; {max(0, quota - used)} of your {quota} are free."


def _clean_filename(name: str) -> str:
    """Keep the base name only: no directories, no control characters, at most 255 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip() or "unnamed"
    return base[:255]


def copy_to_staging(source: BinaryIO, target: Path, limit: int) -> int:
    """Copy a file object into the staging area, refusing more than `limit` bytes."""
    written = 0
    try:
        with target.open("wb") as out:
            while chunk := source.read(1024 * 1024):
                written += len(chunk)
                if written > limit:
                    raise PayloadTooLarge(_too_large_message(limit))
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return written


def _mismatch(shown: Sequence[str], asked: Sequence[str]) -> str:
    """What is wrong with an album order, in a sentence for the problem's detail."""
    known, named = set(shown), set(asked)
    unknown = [a for a in asked if a not in known]
    if unknown:
        return f"Not a photo this album shows: {unknown[0]}."
    missing = [a for a in shown if a not in named]
    if missing:
        return f"The order leaves out a photo in the album: {missing[0]}. Read the album again."
    return "The order names a photo more than once."
