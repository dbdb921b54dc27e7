"""Takeout: everything of an account as one streamed zip (originals byte-identical, a JSON
sidecar per photo, XMP face regions, albums, people, consent records, the ledger and a
SHA-256 manifest), and the import of such an archive into another account.

The zip is produced while it is sent (zipstream-ng): never whole in memory or on disk, so a
library of any size exports with the memory of one chunk. Originals are read through the
BlobStore, which decrypts them, and stored uncompressed (photos do not compress)."""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream  # type: ignore[import-untyped]

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.clock import Clock
from keepsake.config import Settings
from keepsake.consent import archive
from keepsake.consent.errors import InvalidArchive
from keepsake.consent.facedata import FaceArchive
from keepsake.consent.ledger import (
    Action,
    DetailValue,
    Ledger,
    canonical_json,
    timestamp,
    user_actor,
)
from keepsake.consent.purposes import PURPOSES, PurposeName
from keepsake.consent.repository import ConsentRepository
from keepsake.consent.service import ConsentService, Via
from keepsake.errors import KeepsakeError, NotFound, QuotaExceeded
from keepsake.media.schemas import AlbumOrder
from keepsake.media.service import ORIGINALS, MediaService
from keepsake.storage.blobs import BlobStore, blob_key
from keepsake.storage.db import Database
from keepsake.storage.models import Album, Asset, ConsentRecord

log = logging.getLogger("keepsake.takeout")
T = TypeVar("T", bound=BaseModel)

ASSET_PAGE = 200  # assets read from the database at a time while streaming
CHECKSUM_BATCH = 500

README = """\
Keepsake takeout
================

photos/<year>/<file>        your originals, byte for byte as uploaded
photos/<year>/<file>.json   what Keepsake knows about each photo: dates, camera, place,
                            favourite, albums
photos/<year>/<file>.xmp    face regions and people's names, for photo tools that read XMP
albums.json                 your albums and the photos in them, in their order
people.json                 the people you named (when you use face recognition)
consent.json                every consent you gave or withdrew, with the text you agreed to
ledger.json                 your data-use ledger: every processing of your data, hash-chained
faces/templates.json        your face templates, only if you asked for them
account.json                your account and what this archive holds
manifest.sha256             the SHA-256 of every other file: `sha256sum -c manifest.sha256`

Another Keepsake server imports this archive with `keepsake import-takeout` or through
`POST /api/takeout/import`.
"""


@dataclass(frozen=True)
class Takeout:
    filename: str
    chunks: Iterator[bytes]


@dataclass
class ImportReport:
    assets: int = 0
    duplicates: int = 0
    albums: int = 0
    favorites: int = 0
    trashed: int = 0
    face_regions: int = 0
    # Photos whose face regions were not imported, with why (face recognition is off).
    faces_skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


# --- the archive's JSON, as the importer reads it (untrusted input) -----------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ArchivedAsset(_Strict):
    id: str = Field(max_length=64)
    file: str = Field(max_length=1000)
    original_filename: str = Field(max_length=255)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    taken_at: datetime
    taken_at_source: str = Field(max_length=8)
    favorite: bool = False
    trashed_at: datetime | None = None
    xmp: str | None = Field(None, max_length=1000)


class ArchivedAlbum(_Strict):
    id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    cover_asset_id: str | None = Field(None, max_length=64)
    asset_ids: list[str] = Field(default_factory=list)  # in the album's own order
    order: AlbumOrder | None = None  # how it lists them; older archives have none


class ArchivedAccount(_Strict):
    format: str
    version: int


class TakeoutService:
    def __init__(
        self,
        db: Database,
        repo: ConsentRepository,
        media: MediaService,
        blobs: BlobStore,
        consent: ConsentService,
        ledger: Ledger,
        faces: FaceArchive,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.db = db
        self.repo = repo
        self.media = media
        self.blobs = blobs
        self.consent = consent
        self.ledger = ledger
        self.faces = faces
        self.settings = settings
        self.clock = clock

    # --- export --------------------------------------------------------------------------

    def export(
        self, principal: Principal, *, include_templates: bool = False, via: Via = "api"
    ) -> Takeout:
        """The caller's takeout, to be streamed. Face templates only when asked for: they are
        biometric data, and an archive on a laptop is a new place for them to leak from."""
        owner_id = require_access(principal, Scope.FULL)
        with self.db.read() as s:
            user = self.repo.user_by_id(s, owner_id)
            if user is None:
                raise NotFound()
            account = {
                "id": user.id,
                "email": user.email,
                "display_name": user.display_name,
                "created_at": timestamp(user.created_at),
            }
        detail: dict[str, DetailValue] = {"templates": include_templates, "via": via}
        if include_templates:
            # Biometric data leaving the server: the entry says how many templates went.
            detail["template_count"] = self.faces.template_count(owner_id)
        # Recorded before the first byte, so the archive's own ledger shows this export.
        self.ledger.record(
            owner_id,
            user_actor(owner_id),
            Action.TAKEOUT_EXPORTED,
            PurposeName.FACE_RECOGNITION if include_templates else None,
            detail=detail,
        )
        day = self.clock.now().astimezone(UTC).strftime("%Y-%m-%d")
        return Takeout(
            f"keepsake-takeout-{day}.zip", self._stream(owner_id, account, include_templates)
        )

    def _stream(
        self, owner_id: str, account: dict[str, Any], include_templates: bool
    ) -> Iterator[bytes]:
        zs = ZipStream(compress_type=ZIP_STORED)
        manifest: list[bytes] = []

        def add(path: str, data: bytes | Iterable[bytes], compress: bool) -> Iterator[bytes]:
            digest = hashlib.sha256()

            def hashed(chunks: Iterable[bytes]) -> Iterator[bytes]:
                for chunk in chunks:
                    digest.update(chunk)
                    yield chunk
                manifest.append(archive.manifest_line(path, digest.hexdigest()))

            source = hashed([data] if isinstance(data, bytes) else data)
            zs.add(source, path, compress_type=ZIP_DEFLATED if compress else ZIP_STORED)
            # Stream what is queued now: one member in flight at a time.
            yield from zs.all_files()

        yield from add("README.txt", README.encode(), True)
        with self.db.read() as s:
            albums = self.repo.albums_of(s, owner_id)
            memberships = self.repo.album_memberships(s, owner_id)
        album_names = {a.id: a.name for a in albums}
        albums_of_asset: defaultdict[str, list[str]] = defaultdict(list)
        assets_of_album: defaultdict[str, list[str]] = defaultdict(list)
        for album_id, asset_id in memberships:
            albums_of_asset[asset_id].append(album_id)
            assets_of_album[album_id].append(asset_id)

        names = _Names()
        counts = {"photos": 0, "photos_with_faces": 0}
        after: tuple[datetime, str] | None = None
        while True:
            with self.db.read() as s:
                page = self.repo.assets_page(s, owner_id, after=after, limit=ASSET_PAGE)
            if not page:
                break
            self.media.reveal(page)
            sidecars = self.faces.sidecars_of(owner_id, [a.id for a in page])
            for asset in page:
                path = names.allocate(asset)
                original = _Hashing(self.blobs.read(blob_key(ORIGINALS, owner_id, asset.id)))
                yield from add(path, original, False)
                if asset.checksum and original.hexdigest() != asset.checksum:
                    log.error("takeout: the stored original of %s is damaged", asset.id)
                xmp = sidecars.get(asset.id)
                sidecar = _sidecar(
                    asset,
                    path,
                    original.hexdigest(),
                    albums_of_asset[asset.id],
                    album_names,
                    path + ".xmp" if xmp else None,
                )
                yield from add(path + ".json", _json(sidecar), True)
                if xmp:
                    yield from add(path + ".xmp", xmp, True)
                    counts["photos_with_faces"] += 1
                counts["photos"] += 1
            after = (page[-1].taken_at, page[-1].id)

        yield from add("albums.json", _json(_albums(albums, assets_of_album)), True)
        people = self.faces.people_of(owner_id)
        if people:
            yield from add(
                "people.json", _json([{"id": p.id, "name": p.name} for p in people]), True
            )
        yield from add("consent.json", _json(_consents(self.consent.history_of(owner_id))), True)
        yield from add("ledger.json", self.ledger.export_chain(owner_id), True)
        if include_templates:
            yield from add(
                "faces/templates.json", _json_array(self.faces.templates_of(owner_id)), True
            )
        summary = {
            "format": archive.FORMAT,
            "version": archive.FORMAT_VERSION,
            "exported_at": timestamp(self.clock.now()),
            "account": account,
            "counts": {
                **counts,
                "albums": len(albums),
                "people": len(people),
                "templates_included": include_templates,
            },
        }
        yield from add(archive.ACCOUNT, _json(summary), True)
        zs.add(b"".join(manifest), archive.MANIFEST, compress_type=ZIP_DEFLATED)
        yield from zs.finalize()

    # --- import --------------------------------------------------------------------------

    def import_archive(self, principal: Principal, path: Path, via: Via = "api") -> ImportReport:
        """Import a takeout into the caller's account: photos through the normal ingest (so
        de-duplication, quota and encryption apply), albums, favourites, the trash, people's
        names and face regions. The whole archive is checked first (safe names, sizes, every
        SHA-256 against the manifest): a hostile or damaged archive imports nothing."""
        owner_id = require_access(principal, Scope.FULL)
        limits = archive.ArchiveLimits(
            max_total_bytes=self.settings.takeout_import_max_bytes,
            max_member_bytes=max(self.settings.upload_max_bytes, archive.MAX_JSON_BYTES),
        )
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidArchive("The file is not a zip archive.") from exc
        with zf:
            members = archive.inspect(zf, path.stat().st_size, limits)
            entries = self._verified_entries(zf, members)
            self._check_quota(principal, entries)
            report = self._import(principal, owner_id, zf, members, entries)
        self.ledger.record(
            owner_id,
            user_actor(owner_id),
            Action.TAKEOUT_IMPORTED,
            detail={
                "via": via,
                "assets": report.assets,
                "duplicates": report.duplicates,
                "albums": report.albums,
                "faces_skipped": len(report.faces_skipped),
                "face_regions": report.face_regions,
                "failed": len(report.failed),
            },
        )
        return report

    def _verified_entries(
        self, zf: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo]
    ) -> list[tuple[str, str, int, str]]:
        """Check the manifest against every member; (sidecar, original, size, sha256) per
        photo, from sidecars that parse."""
        if archive.MANIFEST not in members or archive.ACCOUNT not in members:
            raise InvalidArchive("This is not a Keepsake takeout: it has no manifest.")
        manifest = archive.parse_manifest(archive.read_member(zf, members[archive.MANIFEST]))
        present = set(members) - {archive.MANIFEST}
        if set(manifest) != present:
            odd = sorted(present ^ set(manifest))
            raise InvalidArchive(
                f"The manifest and the archive disagree about {len(odd)} files, such as {odd[0]!r}."
            )
        for name in sorted(present):
            if archive.member_sha256(zf, members[name]) != manifest[name]:
                raise InvalidArchive(f"{name!r} is damaged: its SHA-256 is not the manifest's.")
        account = _parse(ArchivedAccount, archive.read_small(zf, members[archive.ACCOUNT]))
        if account.format != archive.FORMAT or account.version > archive.FORMAT_VERSION:
            raise InvalidArchive(
                f"This archive is {account.format} version {account.version}; this server "
                f"reads {archive.FORMAT} up to version {archive.FORMAT_VERSION}."
            )
        entries = []
        for name in sorted(members):
            if not (name.startswith("photos/") and name.endswith(".json")):
                continue
            item = _parse(ArchivedAsset, archive.read_small(zf, members[name]), name)
            photo = item.file.startswith("photos/") and not item.file.endswith((".json", ".xmp"))
            if not photo or item.file not in members:
                raise InvalidArchive(f"{name!r} names a photo that is not in the archive.")
            entries.append((name, item.file, item.size, manifest[item.file]))
        return entries

    def _check_quota(
        self, principal: Principal, entries: Sequence[tuple[str, str, int, str]]
    ) -> None:
        """Refuse before importing anything when the new photos would not fit."""
        _count, _total, _trash, quota = self.media.usage(principal)
        if quota is None:
            return
        known: set[str] = set()
        checksums = [sha for _, _, _, sha in entries]
        for start in range(0, len(checksums), CHECKSUM_BATCH):
            found = self.media.existing_checksums(
                principal, checksums[start : start + CHECKSUM_BATCH]
            )
            known.update(found)
        needed = sum(size for _, _, size, sha in entries if sha not in known)
        with self.db.read() as s:
            user = self.repo.user_by_id(s, principal.user_id)
            used = user.usage_bytes if user else 0
        if used + needed > quota:
            raise QuotaExceeded(
                f"The photos in this archive need {needed} bytes; "
                f"{max(0, quota - used)} of your {quota} are free."
            )

    def _import(
        self,
        principal: Principal,
        owner_id: str,
        zf: zipfile.ZipFile,
        members: Mapping[str, zipfile.ZipInfo],
        entries: Sequence[tuple[str, str, int, str]],
    ) -> ImportReport:
        report = ImportReport()
        new_ids: dict[str, str] = {}
        xmp_of: dict[str, str] = {}
        for sidecar_name, file_name, _size, _sha in entries:
            item = _parse(ArchivedAsset, archive.read_small(zf, members[sidecar_name]))
            try:
                asset_id = self._import_photo(principal, zf, members[file_name], item, report)
            except KeepsakeError as exc:
                report.failed.append(f"{file_name}: {exc.detail}")
                continue
            new_ids[item.id] = asset_id
            if item.xmp and item.xmp in members:
                xmp_of[asset_id] = item.xmp

        if "albums.json" in members:
            raw = archive.read_small(zf, members["albums.json"])
            for album in _parse_list(ArchivedAlbum, raw, "albums.json"):
                created = self.media.create_album(principal, album.name)
                ids = [new_ids[a] for a in album.asset_ids if a in new_ids]
                if ids:
                    self.media.add_to_album(principal, created.id, list(dict.fromkeys(ids)))
                if album.order is not None:  # the photos were added in the album's order
                    self.media.update_album(principal, created.id, order=album.order)
                cover = new_ids.get(album.cover_asset_id or "")
                if cover:
                    self.media.update_album(principal, created.id, cover_asset_id=cover)
                report.albums += 1

        # Regions and names go to the faces code, which accepts them only with consent to
        # face recognition: without it they are skipped, and importing again later adds them.
        for asset_id, xmp_name in xmp_of.items():
            try:
                xmp = archive.read_small(zf, members[xmp_name])
                report.face_regions += self.faces.import_sidecar(owner_id, asset_id, xmp)
            except KeepsakeError as exc:
                report.faces_skipped.append(f"{xmp_name}: {exc.detail}")
        return report

    def _import_photo(
        self,
        principal: Principal,
        zf: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        item: ArchivedAsset,
        report: ImportReport,
    ) -> str:
        staged = self.media.new_staging_path()
        try:
            with staged.open("wb") as out:
                for chunk in archive.read_member(zf, info):
                    out.write(chunk)
            # The capture time comes back from EXIF on ingest; otherwise from the sidecar.
            mtime = item.taken_at if item.taken_at_source != "exif" else None
            result = self.media.ingest(
                principal,
                staged,
                item.original_filename,
                declared_checksum=item.sha256,
                file_mtime=_aware(mtime) if mtime else None,
            )
        finally:
            staged.unlink(missing_ok=True)
        asset = result.asset
        if result.duplicate:
            report.duplicates += 1
        else:
            report.assets += 1
        if item.favorite and not asset.is_favorite:
            self.media.update_asset(principal, asset.id, is_favorite=True)
            report.favorites += 1
        if item.trashed_at is not None and not result.duplicate:
            self.media.trash(principal, [asset.id])
            report.trashed += 1
        return asset.id


class _Hashing:
    """Passes chunks through and keeps their SHA-256, for the sidecar written after them."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._digest = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._digest.update(chunk)
            yield chunk

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class _Names:
    """Archive paths by capture year and file name, unique even on a case-insensitive file
    system, with room for each photo's `.json` and `.xmp` beside it."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def allocate(self, asset: Asset) -> str:
        local = asset.taken_at + timedelta(minutes=asset.taken_at_offset_minutes or 0)
        folder = f"photos/{local.year:04d}/"
        name = _safe_name(asset.original_filename)
        stem, dot, ext = name.rpartition(".")
        if not stem:
            stem, dot, ext = name, "", ""
        for candidate in (name, f"{stem}_{asset.id[:8]}{dot}{ext}", f"{stem}_{asset.id}{dot}{ext}"):
            path = folder + candidate
            trio = {path.lower(), path.lower() + ".json", path.lower() + ".xmp"}
            if not trio & self._used:
                self._used |= trio
                return path
        raise AssertionError("asset ids are unique")


def _safe_name(name: str) -> str:
    """A file name every file system accepts and no unpacker mistakes for a path."""
    cleaned = "".join(
        "_" if (not ch.isprintable() or ch in '/\\:*?"<>|') else ch for ch in name
    ).strip()
    if not cleaned or cleaned.startswith("."):
        cleaned = "_" + cleaned
    return cleaned[:200]


def _sidecar(
    asset: Asset,
    path: str,
    sha256: str,
    album_ids: Sequence[str],
    album_names: Mapping[str, str],
    xmp: str | None,
) -> dict[str, Any]:
    return {
        "format": "keepsake-takeout-photo",
        "version": archive.FORMAT_VERSION,
        "id": asset.id,
        "file": path,
        "original_filename": asset.original_filename,
        "sha256": sha256,
        "sha256_at_upload": asset.checksum,
        "size": asset.size,
        "mime_type": asset.mime_type,
        "width": asset.width,
        "height": asset.height,
        "taken_at": timestamp(asset.taken_at),
        "taken_at_offset_minutes": asset.taken_at_offset_minutes,
        "taken_at_source": asset.taken_at_source,
        "make": asset.make,
        "model": asset.model,
        "lens": asset.lens,
        "latitude": asset.latitude,
        "longitude": asset.longitude,
        "orientation": asset.orientation,
        "exif": asset.exif,
        "favorite": asset.is_favorite,
        "trashed_at": timestamp(asset.trashed_at) if asset.trashed_at else None,
        "uploaded_at": timestamp(asset.created_at),
        "albums": [{"id": a, "name": album_names.get(a, "")} for a in album_ids],
        "xmp": xmp,
    }


def _albums(albums: Sequence[Album], assets_of: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "name": a.name,
            "created_at": timestamp(a.created_at),
            "updated_at": timestamp(a.updated_at),
            "cover_asset_id": a.cover_asset_id,
            "order": a.sort_order,
            "asset_ids": assets_of.get(a.id, []),
        }
        for a in albums
    ]


def _consents(records: Sequence[ConsentRecord]) -> dict[str, Any]:
    texts = {(p.name, p.version): p for p in PURPOSES.values()}
    return {
        "records": [
            {
                "id": r.id,
                "purpose": r.purpose,
                "version": r.version,
                "text": texts[(PurposeName(r.purpose), r.version)].text
                if (PurposeName(r.purpose), r.version) in texts
                else None,
                "granted_at": timestamp(r.granted_at),
                "granted_via": r.granted_via,
                "granted_by": r.granted_by,
                "ended_at": timestamp(r.ended_at) if r.ended_at else None,
                "ended_via": r.ended_via,
                "ended_by": r.ended_by,
                "ended_reason": r.ended_reason,
            }
            for r in records
        ],
        "purposes": [
            {"name": p.name, "version": p.version, "title": p.title, "text": p.text}
            for p in PURPOSES.values()
        ],
    }


def _json(value: object) -> bytes:
    return json.dumps(value, indent=1, ensure_ascii=False).encode() + b"\n"


def _json_array(items: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    yield b"["
    first = True
    for item in items:
        yield (b"" if first else b",") + b"\n" + canonical_json(dict(item))
        first = False
    yield b"\n]\n"


def _parse(model: type[T], raw: bytes, name: str = "") -> T:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidArchive(f"{name or model.__name__} is not valid: {_first_error(exc)}") from exc


def _parse_list(model: type[T], raw: bytes, name: str = "") -> list[T]:
    try:
        items = json.loads(raw)
        if not isinstance(items, list):
            raise InvalidArchive(f"{name or model.__name__} is not a list.")
        return [model.model_validate(item) for item in items]
    except (ValueError, ValidationError) as exc:
        raise InvalidArchive(f"{name or model.__name__} is not valid: {exc}") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
