"""Which database fields are sealed with their owner's key, and how.

An asset row keeps in plaintext only what the server must sort, count or bill by (owner,
capture time, size, type, pixel size, orientation, flags). Its SHA-256, file name, camera
make, model and lens, GPS position and EXIF are sealed together in `assets.sealed`
(AES-256-GCM under the owner's metadata subkey, bound to the asset id), so a copy of the
database shows none of them. Three values the server must still compare are stored as keyed
HMACs instead: the checksum for de-duplication (`checksum_key`), and make and model, so the
timeline can filter by camera (`make_tag`, `model_tag`; equal values give equal tags, which
a reader of the database can see, but not what the value is).

Services reveal rows after loading them (`reveal_assets`); the plaintext lives only in
plain attributes of the loaded objects, which SQLAlchemy never writes back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from keepsake.storage.models import Asset, Upload

if TYPE_CHECKING:
    from keepsake.crypto.service import KeyService

_ASSET_AD = b"keepsake/asset\x00"
_UPLOAD_AD = b"keepsake/upload\x00"
_TAG_MAKE = "make"
_TAG_MODEL = "model"


def _dump(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")


def seal_asset(keys: KeyService, asset: Asset) -> None:
    """Compute the stored forms (`sealed`, `checksum_key`, tags) from the revealed values."""
    if not asset.checksum:
        raise ValueError("an asset needs its SHA-256 before it can be sealed")
    owner = asset.owner_id
    payload = {
        "sha256": asset.checksum,
        "filename": asset.original_filename,
        "make": asset.make,
        "model": asset.model,
        "lens": asset.lens,
        "latitude": asset.latitude,
        "longitude": asset.longitude,
        "exif": asset.exif,
    }
    asset.sealed = keys.seal(owner, _dump(payload), _ASSET_AD + asset.id.encode())
    asset.checksum_key = keys.keyed_checksum(owner, asset.checksum)
    asset.make_tag = make_tag(keys, owner, asset.make)
    asset.model_tag = model_tag(keys, owner, asset.model)


def make_tag(keys: KeyService, owner_id: str, make: str | None) -> str | None:
    return keys.tag(owner_id, _TAG_MAKE, make) if make else None


def model_tag(keys: KeyService, owner_id: str, model: str | None) -> str | None:
    return keys.tag(owner_id, _TAG_MODEL, model) if model else None


def reveal_assets(keys: KeyService, assets: Iterable[Asset]) -> None:
    """Fill the plaintext attributes (checksum, original_filename, make ...) of loaded rows."""
    for asset in assets:
        if asset.sealed is None:
            _reveal_legacy(asset)
            continue
        payload = json.loads(
            keys.unseal(asset.owner_id, asset.sealed, _ASSET_AD + asset.id.encode())
        )
        asset.checksum = payload["sha256"]
        asset.original_filename = payload["filename"]
        asset.make = payload["make"]
        asset.model = payload["model"]
        asset.lens = payload["lens"]
        asset.latitude = payload["latitude"]
        asset.longitude = payload["longitude"]
        asset.exif = payload["exif"]


def _reveal_legacy(asset: Asset) -> None:
    """A row of the library core that `migrate_legacy_rows` has not sealed yet."""
    asset.checksum = asset.checksum_key
    asset.original_filename = asset.legacy_filename
    asset.make = asset.legacy_make
    asset.model = asset.legacy_model
    asset.lens = asset.legacy_lens
    asset.latitude = asset.legacy_latitude
    asset.longitude = asset.legacy_longitude
    asset.exif = asset.legacy_exif


def seal_legacy_asset(keys: KeyService, asset: Asset) -> None:
    """Seal a library-core row in place and empty its plaintext columns."""
    _reveal_legacy(asset)
    seal_asset(keys, asset)
    asset.legacy_filename = ""
    asset.legacy_make = asset.legacy_model = asset.legacy_lens = None
    asset.legacy_latitude = asset.legacy_longitude = None
    asset.legacy_exif = None


def seal_upload(keys: KeyService, upload: Upload, filename: str, checksum: str | None) -> None:
    """Store an upload's file name and declared SHA-256 sealed, not in its plain columns."""
    payload = {"filename": filename, "checksum": checksum}
    upload.sealed = keys.seal(upload.owner_id, _dump(payload), _UPLOAD_AD + upload.id.encode())
    upload.filename = ""
    upload.declared_checksum = None


def reveal_upload(keys: KeyService, upload: Upload) -> tuple[str, str | None]:
    """(file name, declared SHA-256) of an upload."""
    if upload.sealed is None:
        return upload.filename, upload.declared_checksum
    payload = json.loads(
        keys.unseal(upload.owner_id, upload.sealed, _UPLOAD_AD + upload.id.encode())
    )
    filename, checksum = payload["filename"], payload["checksum"]
    return str(filename), None if checksum is None else str(checksum)


def seal_legacy_upload(keys: KeyService, upload: Upload) -> None:
    filename, checksum = upload.filename, upload.declared_checksum
    seal_upload(keys, upload, filename, checksum)
