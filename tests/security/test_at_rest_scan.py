"""A stolen disk or database reveals nothing: after photos are uploaded (simple and resumable
uploads, thumbnails and previews made), every file in the data directory and the whole
database are scanned byte by byte for image signatures, EXIF strings, file names and the
originals' SHA-256 (hex and raw). On PostgreSQL the database is scanned as a dump of every
row, since its files are not ours to read.

Faces: when face templates exist, add their bytes in `face_needles` (and make the scenario
index faces), so the same scan proves templates are sealed too."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import MetaData, select

from keepsake.app import Container
from tests.helpers import Account, jpeg_bytes, upload

MAKE = "Kodakry"
MODEL = "Scanmodel QX-7781"
LENS = "Zoomar 35-70 Lensname"
FILENAME = "holiday-secret-5512"
LATITUDE = 48.8584321

# Generic signatures of the image formats Keepsake stores or makes, long enough that random
# ciphertext does not contain them by chance (3-byte JPEG markers would, in a few MB).
SIGNATURES: dict[str, re.Pattern[bytes]] = {
    "JPEG SOI+APP0 JFIF": re.compile(rb"\xff\xd8\xff\xe0..JFIF\x00", re.DOTALL),
    "JPEG SOI+APP1 Exif": re.compile(rb"\xff\xd8\xff\xe1..Exif\x00\x00", re.DOTALL),
    "PNG signature": re.compile(re.escape(b"\x89PNG\r\n\x1a\n")),
    "HEIF ftyp": re.compile(rb"ftyp(heic|heix|mif1|msf1|avif)"),
    "WebP": re.compile(rb"RIFF....WEBPVP8", re.DOTALL),
    "TIFF/Exif IFD": re.compile(rb"Exif\x00\x00(II\*\x00|MM\x00\*)"),
}


def photo_with_gps(seed: int) -> bytes:
    """A JPEG whose EXIF carries a camera, a lens and a GPS position."""
    image = Image.effect_mandelbrot((480, 360), (-2 + seed * 0.01, -1.2, 1, 1.2), 50)
    exif = Image.Exif()
    exif[0x010F] = MAKE
    exif[0x0110] = MODEL
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2023:08:01 12:00:00"
    sub[0xA434] = LENS
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 30.35)
    gps[3], gps[4] = "E", (2.0, 17.0, 40.2)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def heic_bytes() -> bytes | None:
    try:
        import pillow_heif
    except ImportError:
        return None
    image = Image.effect_mandelbrot((256, 192), (-2, -1.2, 1, 1.2), 30).convert("RGB")
    out = io.BytesIO()
    try:
        pillow_heif.from_pillow(image).save(out, quality=70)
    except (OSError, RuntimeError, ValueError):
        return None
    return out.getvalue()


def tus_upload(client: TestClient, account: Account, data: bytes, name: str) -> str:
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"filename": name, "checksum": hashlib.sha256(data).hexdigest()}.items()
    )
    tus = {"Tus-Resumable": "1.0.0", **account.headers}
    r = client.post(
        "/api/uploads",
        headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
    )
    assert r.status_code == 201, r.text
    location = r.headers["location"]
    half = len(data) // 2
    for offset, chunk in ((0, data[:half]), (half, data[half:])):
        r = client.patch(
            location,
            content=chunk,
            headers={
                **tus,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert r.status_code == 204, r.text
    return r.headers["keepsake-asset-id"]


def face_needles(container: Container) -> dict[str, bytes]:
    """Faces: return {description: bytes} for every stored face template (for example each
    embedding's float32 bytes); the scan then proves none is stored in the clear."""
    return {}


def database_bytes(container: Container) -> bytes:
    """Every value of every row, as bytes (bytes columns raw, others as text)."""
    metadata = MetaData()
    metadata.reflect(container.db.engine)
    out = bytearray()
    with container.db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        out += bytes(value)
                    elif value is not None:
                        out += str(value).encode("utf-8", "replace")
                    out += b"\x00"
    return bytes(out)


def files_at_rest(container: Container) -> dict[str, bytes]:
    root = container.settings.data_dir
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def needles(photos: dict[str, bytes]) -> dict[str, bytes]:
    found: dict[str, bytes] = {
        "camera make": MAKE.encode(),
        "camera model": MODEL.encode(),
        "lens": LENS.encode(),
        "file name": FILENAME.encode(),
        "latitude": str(LATITUDE)[:7].encode(),
    }
    for name, data in photos.items():
        digest = hashlib.sha256(data)
        found[f"{name}: SHA-256 hex"] = digest.hexdigest().encode()
        found[f"{name}: SHA-256 HEX"] = digest.hexdigest().upper().encode()
        found[f"{name}: SHA-256 raw"] = digest.digest()
        found[f"{name}: SHA-256 base64"] = base64.b64encode(digest.digest()).rstrip(b"=")
        found[f"{name}: first 16 bytes"] = data[:16]
        found[f"{name}: 32 bytes from the middle"] = data[len(data) // 2 : len(data) // 2 + 32]
    return found


def scan(haystacks: dict[str, bytes], wanted: dict[str, bytes]) -> list[str]:
    hits = []
    for where, data in haystacks.items():
        for what, needle in wanted.items():
            if needle and needle in data:
                hits.append(f"{what} in {where}")
        for what, pattern in SIGNATURES.items():
            if pattern.search(data):
                hits.append(f"{what} in {where}")
    return hits


def upload_everything(client: TestClient, account: Account) -> dict[str, Any]:
    photos = {
        "jpeg": photo_with_gps(1),
        "png": jpeg_bytes((300, 200), seed=3, fmt="PNG", make=MAKE, model=MODEL),
        "tus jpeg": photo_with_gps(2),
    }
    heic = heic_bytes()
    if heic is not None:
        photos["heic"] = heic
    ids = []
    for name, data in photos.items():
        if name.startswith("tus"):
            ids.append(tus_upload(client, account, data, f"{FILENAME}-{len(ids)}.jpg"))
        else:
            r = upload(client, account, data, f"{FILENAME}-{len(ids)}.{name}")
            assert r.status_code == 201, r.text
            ids.append(r.json()["asset"]["id"])
    album = client.post("/api/albums", json={"name": "Summer"}, headers=account.headers).json()
    client.post(f"/api/albums/{album['id']}/assets", json={"ids": ids}, headers=account.headers)
    return {"photos": photos, "ids": ids}


def test_nothing_uploaded_can_be_found_on_disk_or_in_the_database(
    client: TestClient, alice: Account, container: Container
) -> None:
    done = upload_everything(client, alice)
    photos: dict[str, bytes] = done["photos"]
    # The photos are all there and whole, with their metadata, for their owner.
    for asset_id, data in zip(done["ids"], photos.values(), strict=True):
        r = client.get(f"/api/assets/{asset_id}/original", headers=alice.headers)
        assert r.content == data
        detail = client.get(f"/api/assets/{asset_id}", headers=alice.headers).json()
        assert set(detail["derived"]) == {"thumbnail", "preview"}
        assert detail["checksum"] == hashlib.sha256(data).hexdigest()
        assert detail["original_filename"].startswith(FILENAME)
    first = client.get(f"/api/assets/{done['ids'][0]}", headers=alice.headers).json()
    assert (first["make"], first["model"], first["lens"]) == (MAKE, MODEL, LENS)
    assert first["latitude"] == pytest.approx(48.8584, abs=1e-3)

    wanted = {**needles(photos), **face_needles(container)}
    derived = [
        b"".join(container.blobs.read(f"{kind}/{alice.id}/{asset_id}"))
        for kind in ("thumbnails", "previews")
        for asset_id in done["ids"]
    ]
    for i, image in enumerate(derived):
        wanted[f"derived image {i}: first 16 bytes"] = image[:16]
        wanted[f"derived image {i}: middle"] = image[len(image) // 2 : len(image) // 2 + 32]

    haystacks = files_at_rest(container)
    haystacks["database rows"] = database_bytes(container)
    assert any(name.startswith("blobs/originals/") for name in haystacks)
    assert scan(haystacks, wanted) == []


def test_the_scan_finds_what_is_stored_in_the_clear(
    tmp_path: Path, database_url: str, clock: Any
) -> None:
    """The control: with blob encryption off, the same scan finds the image signatures in
    the blob files (so it can fail), while the database still shows no metadata."""
    from keepsake.app import build_container, create_app
    from tests.conftest import make_settings
    from tests.helpers import new_account

    settings = make_settings(tmp_path / "plain", database_url, encryption_at_rest=False)
    container = build_container(settings, clock=clock)
    try:
        with TestClient(create_app(container, start_jobs=False)) as client:
            account = new_account(client, "plain@example.org")
            photos = upload_everything(client, account)["photos"]
        files = files_at_rest(container)
        blob_hits = scan(
            {k: v for k, v in files.items() if k.startswith("blobs/")}, needles(photos)
        )
        assert any("JPEG SOI+APP0 JFIF" in hit for hit in blob_hits)
        assert any("TIFF/Exif IFD" in hit for hit in blob_hits)
        assert any("camera model in blobs/originals" in hit for hit in blob_hits)
        assert any("PNG signature" in hit for hit in blob_hits)
        database = {k: v for k, v in files.items() if not k.startswith("blobs/")} | {
            "database rows": database_bytes(container)
        }
        assert scan(database, needles(photos)) == []
    finally:
        container.close()
