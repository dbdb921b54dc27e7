"""Hostile input gets a clear 4xx problem and leaves nothing behind.

A corpus made here, by the test: decompression bombs in every format, truncated, corrupt
and polyglot files, wrong content types, giant and malformed EXIF blocks, deeply nested
JSON, absurd query parameters and headers. After each, the blob store, the staging areas
and the database are checked to be exactly as before.

Two kinds of input are not refused, on purpose, and tested for what they must do instead:
a genuine photo with a hostile file name is kept under a cleaned name (the photo is the
user's; the name cannot reach the file system or a response header), and a genuine photo
with a giant EXIF block is kept with its metadata bounded."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, func, select

from keepsake.app import Container
from tests.helpers import Account, jpeg_bytes, upload

# For input refused before the database is reached: SQLite only, to save time.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_bomb() -> bytes:
    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 200_000))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_bomb() -> bytes:
    """A real JPEG whose frame header claims 65,500 x 65,500 pixels."""
    data = bytearray(jpeg_bytes((64, 48), taken=None, make=None, model=None))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65500, 65500)
    return bytes(data)


def gif_bomb() -> bytes:
    data = bytearray(jpeg_bytes((16, 16), fmt="GIF"))
    data[6:10] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def webp_bomb() -> bytes:
    """A VP8X header declaring a 16384 x 16384 canvas."""
    canvas = struct.pack("<I", 16383)[:3] * 2
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + canvas
    body = b"WEBP" + vp8x + b"VP8 " + struct.pack("<I", 4) + b"\x00" * 4
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tiff_bomb() -> bytes:
    entries = [(256, 4, 1, 100_000), (257, 4, 1, 100_000), (258, 3, 1, 8), (262, 3, 1, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries
    )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00"


def truncated(fmt: str, keep: float) -> Callable[[], bytes]:
    def make() -> bytes:
        data = jpeg_bytes((320, 240), seed=4, fmt=fmt)
        return data[: int(len(data) * keep)]

    return make


def png_bad_crc() -> bytes:
    data = bytearray(jpeg_bytes((64, 48), fmt="PNG"))
    data[29] ^= 0xFF  # inside IHDR's CRC
    return bytes(data)


def giant_exif(segments: int) -> bytes:
    """A real JPEG with `segments` maximal APP1 Exif blocks, each an IFD that claims 65,535
    entries and points outside the file."""
    base = jpeg_bytes((64, 48))
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 65535)
    tiff += struct.pack(">HHII", 0x8769, 4, 1, 0x7FFFFFFF) * 5000
    body = (b"Exif\x00\x00" + tiff)[:65533]
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return base[:2] + segment * segments + base[2:]


CORPUS: dict[str, tuple[Callable[[], bytes], str, tuple[int, ...]]] = {
    # name: (make the file, the name it is uploaded under, acceptable statuses)
    "png decompression bomb": (png_bomb, "bomb.png", (422,)),
    "jpeg decompression bomb": (jpeg_bomb, "bomb.jpg", (422,)),
    "gif decompression bomb": (gif_bomb, "bomb.gif", (422,)),
    "webp decompression bomb": (webp_bomb, "bomb.webp", (422,)),
    "tiff decompression bomb": (tiff_bomb, "bomb.tif", (422,)),
    "jpeg cut after its header": (truncated("JPEG", 0.05), "cut.jpg", (422,)),
    "jpeg cut in half": (truncated("JPEG", 0.5), "half.jpg", (422,)),
    "png cut in half": (truncated("PNG", 0.5), "half.png", (422,)),
    "webp cut in half": (truncated("WEBP", 0.5), "half.webp", (422,)),
    "gif cut in half": (truncated("GIF", 0.5), "half.gif", (422,)),
    "tiff cut in half": (truncated("TIFF", 0.5), "half.tif", (422,)),
    "png with a bad checksum": (png_bad_crc, "crc.png", (422,)),
    "empty file": (lambda: b"", "empty.jpg", (415,)),
    "one byte": (lambda: b"\xff", "one.jpg", (415,)),
    "jpeg marker then html": (
        lambda: b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>",
        "xss.jpg",
        (415, 422),
    ),
    "gif header then javascript": (
        lambda: b"GIF89a=1;alert(document.cookie);//" + b" " * 64,
        "gifar.gif",
        (415, 422),
    ),
    "png signature then pdf": (
        lambda: b"\x89PNG\r\n\x1a\n%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "doc.png",
        (415, 422),
    ),
    "pdf named as a jpeg": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>", "a.jpg", (415,)),
    "svg with a script": (
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "vector.jpg",
        (415,),
    ),
    "html page": (lambda: b"<!doctype html><title>x</title>" * 10, "page.jpg", (415,)),
    "zip archive": (lambda: b"PK\x03\x04" + b"\x00" * 100, "photos.jpg", (415,)),
    "elf executable": (lambda: b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "run.jpg", (415,)),
    "mp4 video": (
        lambda: b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64,
        "clip.jpg",
        (415, 422),
    ),
    "heif brand, no image": (
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        "empty.heic",
        (415, 422),
    ),
}


_TABLES: dict[str, MetaData] = {}


def snapshot(container: Container) -> dict[str, Any]:
    """What a refused request must not change: blobs, staged files, and rows."""
    data_dir = container.settings.data_dir
    files = sorted(
        str(p.relative_to(data_dir))
        for p in data_dir.rglob("*")
        if p.is_file() and not p.name.startswith(("keepsake.db", "jobs.db"))
    )
    url = container.db.url
    if url not in _TABLES:  # reflecting is slow; the schema does not change within a test
        _TABLES[url] = MetaData()
        _TABLES[url].reflect(container.db.engine)
    counts = {}
    with container.db.engine.connect() as conn:
        for name, table in _TABLES[url].tables.items():
            if name in ("audit_events", "login_throttle", "alembic_version"):
                continue
            counts[name] = conn.execute(select(func.count()).select_from(table)).scalar()
    return {"blobs": sorted(container.blobs.keys()), "files": files, "rows": counts}


def is_problem(r: Any) -> bool:
    if r.headers.get("content-type") != "application/problem+json":
        return False
    body = r.json()
    return bool(body.get("type") and body.get("title") and body.get("detail"))


def test_every_hostile_file_is_refused_with_a_problem_and_leaves_nothing(
    client: TestClient, alice: Account, container: Container
) -> None:
    failures = []
    for case, (make, name, statuses) in CORPUS.items():
        before = snapshot(container)
        r = upload(client, alice, make(), name)
        if r.status_code not in statuses or not is_problem(r):
            failures.append(f"{case}: {r.status_code} {r.text[:160]}")
        elif snapshot(container) != before:
            failures.append(f"{case}: left something behind")
    tus = {"Tus-Resumable": "1.0.0", **alice.headers}
    for case, (make, _name, statuses) in list(CORPUS.items())[:6]:
        before = snapshot(container)
        data = make() or b"\x00"
        r = client.post("/api/uploads", headers={**tus, "Upload-Length": str(len(data))})
        location = r.headers["location"]
        r = client.patch(
            location,
            content=data,
            headers={
                **tus,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        if r.status_code not in statuses or not is_problem(r):
            failures.append(f"tus, {case}: {r.status_code} {r.text[:160]}")
        elif snapshot(container) != before:
            failures.append(f"tus, {case}: left something behind")
    assert not failures, "\n".join(failures)


@sqlite_only
def test_wrong_content_types_are_refused(
    client: TestClient, alice: Account, container: Container
) -> None:
    before = snapshot(container)
    photo = jpeg_bytes()
    attempts = [
        client.post("/api/assets", json={"file": "not a file"}, headers=alice.headers),
        client.post(
            "/api/assets",
            content=photo,
            headers={**alice.headers, "Content-Type": "image/jpeg"},
        ),
        client.post(
            "/api/assets",
            files={"file": ("notes.jpg", b"just some notes, no picture", "image/jpeg")},
            headers=alice.headers,
        ),
        client.post(
            "/api/albums",
            content=b"name=x",
            headers={**alice.headers, "Content-Type": "application/x-www-form-urlencoded"},
        ),
        client.post(
            "/api/albums",
            content=b"\xff\xfe\x00garbage",
            headers={**alice.headers, "Content-Type": "application/json"},
        ),
    ]
    for r in attempts:
        assert 400 <= r.status_code < 500 and is_problem(r), r.text
    tus = {"Tus-Resumable": "1.0.0", **alice.headers}
    location = client.post("/api/uploads", headers={**tus, "Upload-Length": "10"}).headers[
        "location"
    ]
    r = client.patch(
        location,
        content=b"0123456789",
        headers={**tus, "Upload-Offset": "0", "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 415 and is_problem(r)
    client.delete(location, headers=tus)
    assert snapshot(container) == before


def test_absurd_query_parameters_and_headers_get_clear_answers(
    client: TestClient, alice: Account, container: Container
) -> None:
    asset_id = upload(client, alice, jpeg_bytes()).json()["asset"]["id"]
    before = snapshot(container)
    h = alice.headers
    cases = {
        "/api/timeline?limit=100000000000000000000000000000": 422,
        "/api/timeline?limit=-1": 422,
        "/api/timeline?limit=NaN": 422,
        "/api/timeline?taken_from=" + "9" * 5000: 422,
        "/api/timeline?taken_to=yesterday": 422,
        "/api/timeline?cursor=" + "A" * 199: 422,
        "/api/timeline?cursor=" + "%00" * 50: 422,
        "/api/timeline?cursor=" + "A" * 5000: 422,
        "/api/timeline?make=" + "x" * 5000: 422,
        "/api/timeline?favorites=maybe": 422,
        "/api/admin/audit?limit=0": 422,
        "/api/users/me/audit?before=" + "1" * 400: 422,
        f"/api/assets/{'x' * 5000}": 404,
        "/api/assets/..%2F..%2Fetc%2Fpasswd": 404,
        "/api/assets/%00/original": 404,  # 422 on PostgreSQL, whose text holds no NUL
    }
    for path, status in cases.items():
        r = client.get(path, headers=h)
        expected = (status, 422) if "%00" in path else (status,)
        assert r.status_code in expected and is_problem(r), (path[:80], r.status_code, r.text[:200])
    original = f"/api/assets/{asset_id}/original"
    r = client.get(original, headers={**h, "Range": "bytes=99999999999999999999999-"})
    assert r.status_code == 416
    r = client.get(original, headers={**h, "Range": "bytes=0-99999999999999999999999"})
    assert r.status_code == 206
    r = client.get(original, headers={**h, "Range": "bytes=" + "1-2," * 5000})
    assert r.status_code == 200  # anything but one plain range: the whole file

    deep = "[" * 100_000 + "]" * 100_000
    r = client.post(
        "/api/assets/exists", content=deep, headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code in (400, 422) and is_problem(r)
    r = client.post("/api/assets/exists", json={"checksums": ["x" * 64] * 5001}, headers=h)
    assert r.status_code == 422 and is_problem(r)

    tus = {"Tus-Resumable": "1.0.0", **h}
    for headers, status in [
        ({"Upload-Length": "1" + "0" * 30}, 422),
        ({"Upload-Length": str(container.settings.upload_max_bytes + 1)}, 413),
        ({"Upload-Length": "-5"}, 422),
        ({"Upload-Length": "10", "Upload-Metadata": "filename %%%notbase64"}, 422),
        ({"Upload-Length": "10", "Upload-Metadata": "filename //4="}, 422),  # not UTF-8
    ]:
        r = client.post("/api/uploads", headers={**tus, **headers})
        assert r.status_code in (status, 400), (headers.keys(), r.status_code, r.text[:200])
    assert snapshot(container) == before


HOSTILE_NAMES = [
    "../../../../etc/passwd",
    "..\\..\\windows\\system32\\config\\sam",
    "/absolute/path/photo.jpg",
    "a\x00b.jpg",
    "line\r\nX-Injected: yes.jpg",
    'quote"; filename="evil.exe',
    "photo\u202egpj.exe",
    "写真 🌸.jpg",
    "x" * 300 + ".jpg",
    "",
]


@sqlite_only
def test_hostile_file_names_on_genuine_photos_are_cleaned(
    client: TestClient, alice: Account, container: Container
) -> None:
    for i, name in enumerate(HOSTILE_NAMES):
        data = jpeg_bytes((96, 64), seed=i)
        r = upload(client, alice, data, name)
        assert r.status_code in (201, 400, 422), (name, r.text)
        if r.status_code != 201:
            assert is_problem(r)  # the multipart parser refused the part itself
            continue
        stored = r.json()["asset"]["original_filename"]
        assert stored and len(stored) <= 255, name
        assert not any(ch in stored for ch in "/\\\x00\r\n"), name
        assert all(ch.isprintable() for ch in stored), name
        r = client.get(f"/api/assets/{r.json()['asset']['id']}/original", headers=alice.headers)
        assert r.content == data
        disposition = r.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="'), name
        assert "\r" not in disposition and "\n" not in disposition, name
        assert disposition.count('"') == 2, name  # nothing can close the quoted name early
        assert "x-injected" not in {k.lower() for k in r.headers}, name
    data_dir = container.settings.data_dir
    assert [p for p in data_dir.parent.rglob("*") if "passwd" in p.name or p.suffix == ".exe"] == []


# Pillow warns about the block (and reads on); only pytest makes warnings errors.
@sqlite_only
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
def test_a_giant_exif_block_costs_nothing_and_is_not_stored_whole(
    client: TestClient, alice: Account, container: Container
) -> None:
    data = giant_exif(40)  # 2.6 MB of metadata around a 64 x 48 photo
    r = upload(client, alice, data, "giant-exif.jpg")
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:
        assert is_problem(r) and list(container.blobs.keys()) == []
        return
    asset_id = r.json()["asset"]["id"]
    detail = client.get(f"/api/assets/{asset_id}", headers=alice.headers)
    assert len(detail.content) < 8192
    assert set(detail.json()["derived"]) == {"thumbnail", "preview"}
    assert client.get(f"/api/assets/{asset_id}/original", headers=alice.headers).content == data


@sqlite_only
def test_a_polyglot_that_is_a_real_photo_is_served_so_no_browser_runs_it(
    client: TestClient, alice: Account
) -> None:
    """A valid JPEG with an HTML page appended is a photo (cameras append data too); what
    matters is that it is never served as something a browser would render or run."""
    data = jpeg_bytes() + b"<html><script>alert(document.cookie)</script></html>"
    r = upload(client, alice, data, "innocent.html")
    assert r.status_code == 201, r.text
    asset = r.json()["asset"]
    assert asset["mime_type"] == "image/jpeg"
    r = client.get(f"/api/assets/{asset['id']}/original", headers=alice.headers)
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment")
    assert "script-src 'self'" in r.headers["content-security-policy"]
