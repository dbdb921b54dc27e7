"""Takeout: one streamed zip with everything (originals byte-identical, sidecars, XMP face
regions, albums, people, consent, ledger, a SHA-256 manifest), templates only on request;
import into another account with nothing lost; hostile archives refused, nothing imported."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from keepsake.app import Container
from keepsake.auth.access import Principal, Scope
from keepsake.cli.main import app as cli
from keepsake.consent import archive
from keepsake.consent.errors import HostileArchive
from keepsake.consent.facedata import PersonRecord
from keepsake.consent.ledger import GENESIS, canonical_json
from tests.consent.conftest import FakeFaces, cli_env, fill_library, takeout_zip
from tests.faces.conftest import IDENTITY, photo
from tests.helpers import Account, jpeg_bytes, publish_new_face_recognition_text, upload

pytestmark = pytest.mark.postgres
runner = CliRunner()
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description><mwg-rs:RegionList>'
    b'<rdf:Bag><rdf:li mwg-rs:Name="Grandma Rosa"/><rdf:li/></rdf:Bag>'
    b"</mwg-rs:RegionList></rdf:Description></rdf:RDF></x:xmpmeta>"
)


@pytest.fixture
def library(client: TestClient, alice: Account, faces: FakeFaces) -> dict[str, bytes]:
    """Alice's library: four photos (two with the same file name), an album, a favourite,
    one photo in the trash, named faces on one photo, consent to face recognition."""
    originals: dict[str, bytes] = {}
    for i, name in enumerate(["beach.jpg", "IMG_0001.jpg", "IMG_0001.jpg", "no-exif.png"]):
        data = (
            jpeg_bytes((80, 60), seed=40 + i, taken=None, fmt="PNG")
            if name.endswith(".png")
            else jpeg_bytes((96, 64), seed=40 + i)
        )
        r = upload(client, alice, data, name)
        assert r.status_code == 201, r.text
        originals[r.json()["asset"]["id"]] = data
    ids = list(originals)
    album = client.post("/api/albums", json={"name": "Holidays"}, headers=alice.headers).json()
    client.post(f"/api/albums/{album['id']}/assets", json={"ids": ids[:2]}, headers=alice.headers)
    client.patch(f"/api/assets/{ids[1]}", json={"is_favorite": True}, headers=alice.headers)
    client.delete(f"/api/assets/{ids[3]}", headers=alice.headers)
    client.put("/api/consent/face_recognition", json={"version": 1}, headers=alice.headers)
    faces.people[alice.id] = [PersonRecord("p1", "Grandma Rosa"), PersonRecord("p2", "Tom")]
    faces.sidecars[ids[0]] = XMP
    faces.templates[alice.id] = [b"\x01\x02" * 256]
    return originals


def _sidecars(z: zipfile.ZipFile) -> dict[str, dict[str, object]]:
    return {
        (d := json.loads(z.read(n)))["id"]: d
        for n in z.namelist()
        if n.startswith("photos/") and n.endswith(".json")
    }


def test_takeout_holds_everything_with_originals_byte_identical(
    client: TestClient, alice: Account, library: dict[str, bytes]
) -> None:
    z = takeout_zip(client, alice)
    names = z.namelist()
    assert names[-1] == "manifest.sha256"
    manifest = archive.parse_manifest([z.read("manifest.sha256")])
    assert set(manifest) == set(names) - {"manifest.sha256"}
    for name, digest in manifest.items():
        assert hashlib.sha256(z.read(name)).hexdigest() == digest, name

    sidecars = _sidecars(z)
    assert set(sidecars) == set(library), "every photo, the one in the trash too"
    for asset_id, meta in sidecars.items():
        original = z.read(str(meta["file"]))
        assert original == library[asset_id], "byte-identical"
        assert meta["sha256"] == meta["sha256_at_upload"] == hashlib.sha256(original).hexdigest()
    paths = sorted(str(m["file"]) for m in sidecars.values())
    assert len(set(p.lower() for p in paths)) == 4, "same file names do not collide"
    ids = list(library)
    assert sidecars[ids[1]]["favorite"] is True and sidecars[ids[0]]["favorite"] is False
    assert sidecars[ids[3]]["trashed_at"] is not None
    assert [a["name"] for a in sidecars[ids[0]]["albums"]] == ["Holidays"]  # type: ignore[index, union-attr]

    xmp_path = str(sidecars[ids[0]]["file"]) + ".xmp"
    assert sidecars[ids[0]]["xmp"] == xmp_path and z.read(xmp_path) == XMP
    assert [n for n in names if n.endswith(".xmp")] == [xmp_path], "only photos with faces"

    albums = json.loads(z.read("albums.json"))
    assert albums[0]["name"] == "Holidays" and set(albums[0]["asset_ids"]) == set(ids[:2])
    assert {p["name"] for p in json.loads(z.read("people.json"))} == {"Grandma Rosa", "Tom"}
    consent = json.loads(z.read("consent.json"))
    assert consent["records"][0]["purpose"] == "face_recognition"
    assert consent["records"][0]["text"].startswith("Keepsake looks for faces")
    assert "faces/templates.json" not in names, "templates only when asked for"

    ledger = json.loads(z.read("ledger.json"))
    prev = GENESIS
    for entry in ledger["entries"]:
        claimed = entry.pop("hash")
        assert entry["prev_hash"] == prev
        assert hashlib.sha256(canonical_json(entry)).hexdigest() == claimed
        prev = claimed
    assert entry["action"] == "takeout.exported", "the export is in its own ledger"
    assert entry["detail"]["templates"] is False
    account = json.loads(z.read("account.json"))
    assert account["format"] == "keepsake-takeout" and account["counts"]["photos"] == 4


def test_templates_are_included_only_when_asked_and_that_is_ledgered(
    client: TestClient, alice: Account, library: dict[str, bytes]
) -> None:
    z = takeout_zip(client, alice, include_templates="true")
    templates = json.loads(z.read("faces/templates.json"))
    assert templates == [{"id": "t0", "embedding": ("0102" * 256)}]
    entry = client.get(
        "/api/ledger", params={"action": "takeout.exported"}, headers=alice.headers
    ).json()["items"][0]
    assert entry["purpose"] == "face_recognition" and entry["detail"]["templates"] is True


def test_the_takeout_streams_while_it_is_made(
    client: TestClient, container: Container, alice: Account
) -> None:
    fill_library(client, alice, 6)
    reads: list[str] = []
    blobs = container.takeout.blobs

    class CountingBlobs:
        def __getattr__(self, name: str) -> object:
            return getattr(blobs, name)

        def read(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
            reads.append(key)
            return blobs.read(key, start, stop)

    container.takeout.blobs = CountingBlobs()  # type: ignore[assignment]
    principal = Principal(alice.id, True, frozenset({Scope.FULL}))
    chunks = container.takeout.export(principal).chunks
    received = b""
    while b"photos/2024/IMG_" not in received:  # the first photo's header
        received += next(chunks)
    assert len(reads) < 6, "the first photo is on its way before the others are read"
    rest = b"".join(chunks)
    assert len(reads) == 6
    assert zipfile.ZipFile(io.BytesIO(received + rest)).testzip() is None

    r = client.get("/api/takeout", headers=alice.headers)
    assert "content-length" not in r.headers, "sent as it is made, not built first"
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]


def test_import_round_trips_with_nothing_lost(
    client: TestClient,
    container: Container,
    alice: Account,
    bob: Account,
    faces: FakeFaces,
    library: dict[str, bytes],
) -> None:
    exported = client.get("/api/takeout", headers=alice.headers).content
    r = client.post(
        "/api/takeout/import",
        files={"file": ("takeout.zip", exported, "application/zip")},
        headers=bob.headers,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report == {
        "assets": 4,
        "duplicates": 0,
        "albums": 1,
        "favorites": 1,
        "trashed": 1,
        "face_regions": 2,
        "faces_skipped": [],
        "failed": [],
    }

    timeline = client.get("/api/timeline", headers=bob.headers).json()["items"]
    trash = client.get("/api/trash", headers=bob.headers).json()
    trash_items = trash["items"] if isinstance(trash, dict) else trash
    assert len(timeline) == 3 and len(trash_items) == 1
    mine = {a["id"]: a for a in timeline + trash_items}
    bob_originals = {
        i: client.get(f"/api/assets/{i}/original", headers=bob.headers).content for i in mine
    }
    assert sorted(bob_originals.values()) == sorted(library.values()), "byte-identical"

    alice_assets = {
        a["id"]: a for a in client.get("/api/timeline", headers=alice.headers).json()["items"]
    }
    by_bytes = {bob_originals[i]: mine[i] for i in mine}
    for asset_id, data in library.items():
        copy = by_bytes[data]
        if asset_id in alice_assets:
            original = alice_assets[asset_id]
            for field in ("original_filename", "taken_at", "is_favorite", "width", "height"):
                assert copy[field] == original[field], field

    albums = client.get("/api/albums", headers=bob.headers).json()
    assert [a["name"] for a in albums] == ["Holidays"]
    album = client.get(f"/api/albums/{albums[0]['id']}", headers=bob.headers).json()
    in_album = {bob_originals[a["id"]] for a in album["assets"]}
    assert in_album == {library[i] for i in list(library)[:2]}

    ((imported_asset, imported_xmp),) = faces.imported.items()
    assert imported_xmp == XMP and bob_originals[imported_asset] == library[next(iter(library))]
    assert bob.id not in faces.templates, "templates are never imported"
    assert not container.consent.allows(bob.id, "face_recognition"), "consent is not carried"
    entry = client.get("/api/ledger", headers=bob.headers).json()["items"][0]
    assert entry["action"] == "takeout.imported" and entry["detail"]["assets"] == 4

    again = client.post(
        "/api/takeout/import",
        files={"file": ("takeout.zip", exported, "application/zip")},
        headers=bob.headers,
    ).json()
    assert again["assets"] == 0 and again["duplicates"] == 4, "de-duplicated by the ingest"


def test_an_albums_own_order_travels_through_takeout(
    client: TestClient, alice: Account, bob: Account, library: dict[str, bytes]
) -> None:
    (holidays,) = client.get("/api/albums", headers=alice.headers).json()
    shown = [
        a["id"]
        for a in client.get(f"/api/albums/{holidays['id']}", headers=alice.headers).json()["assets"]
    ]
    arranged = list(reversed(shown))
    r = client.put(
        f"/api/albums/{holidays['id']}/order", json={"ids": arranged}, headers=alice.headers
    )
    assert r.status_code == 200, r.text

    exported = client.get("/api/takeout", headers=alice.headers).content
    r = client.post(
        "/api/takeout/import",
        files={"file": ("takeout.zip", exported, "application/zip")},
        headers=bob.headers,
    )
    assert r.status_code == 200, r.text

    (copy,) = client.get("/api/albums", headers=bob.headers).json()
    body = client.get(f"/api/albums/{copy['id']}", headers=bob.headers).json()
    assert body["order"] == "manual"
    bob_bytes = [
        client.get(f"/api/assets/{a['id']}/original", headers=bob.headers).content
        for a in body["assets"]
    ]
    assert bob_bytes == [library[i] for i in arranged]


def test_import_from_the_command_line(
    client: TestClient,
    container: Container,
    alice: Account,
    bob: Account,
    tmp_path: Path,
) -> None:
    fill_library(client, alice, 2)
    path = tmp_path / "takeout.zip"
    path.write_bytes(client.get("/api/takeout", headers=alice.headers).content)
    r = runner.invoke(
        cli, ["import-takeout", str(path), "--user", bob.email], env=cli_env(container)
    )
    assert r.exit_code == 0, r.output
    assert "imported 2 photos" in r.output
    assert len(client.get("/api/timeline", headers=bob.headers).json()["items"]) == 2


# --- hostile and damaged archives ------------------------------------------------------------


def _valid(client: TestClient, account: Account) -> bytes:
    fill_library(client, account, 1)
    return client.get("/api/takeout", headers=account.headers).content


def _with_member(valid: bytes, info: zipfile.ZipInfo, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(valid)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr(info, data)
    return out.getvalue()


def _named(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("placeholder")
    info.filename = name  # as written by a hostile tool: not normalised by zipfile
    return info


def _symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("photos/2024/link.jpg")
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return info


def _bomb() -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo("photos/2024/bomb.jpg")
    info.compress_type = zipfile.ZIP_DEFLATED
    return info, b"\0" * (20 * 1024 * 1024)


def _lying_size(valid: bytes) -> bytes:
    """A member, listed in the manifest, that declares 100 bytes and unpacks to 3 MB."""
    payload = b"\0" * (3 * 1024 * 1024)
    name = b"photos/2024/liar.jpg"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(valid)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == archive.MANIFEST:
                data += archive.manifest_line(name.decode(), hashlib.sha256(payload).hexdigest())
            target.writestr(item, data)
        target.writestr(zipfile.ZipInfo(name.decode()), payload, zipfile.ZIP_DEFLATED)
    data = bytearray(out.getvalue())
    real_size = struct.pack("<I", len(payload))
    for signature, name_offset, size_offset in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        at = -1
        while (at := data.find(signature, at + 1)) != -1:
            named = data[at + name_offset : at + name_offset + len(name)] == name
            if named and data[at + size_offset : at + size_offset + 4] == real_size:
                data[at + size_offset : at + size_offset + 4] = struct.pack("<I", 100)
    return bytes(data)


def _overlapping(valid: bytes) -> bytes:
    """A second central-directory record pointing at the first member's data."""
    data = bytearray(valid)
    eocd = data.rindex(b"PK\x05\x06")
    entries, cd_size, cd_offset = struct.unpack("<HII", data[eocd + 10 : eocd + 20])
    first = data[cd_offset : cd_offset + 46]
    name_len, extra_len, comment_len = struct.unpack("<HHH", first[28:34])
    record = bytearray(data[cd_offset : cd_offset + 46 + name_len + extra_len + comment_len])
    record[46] = ord("Z")  # another name for the same bytes
    central = data[cd_offset:eocd] + record
    tail = bytearray(data[eocd:])
    tail[8:12] = struct.pack("<HH", entries + 1, entries + 1)
    tail[12:16] = struct.pack("<I", cd_size + len(record))
    return bytes(data[:cd_offset] + central + tail)


def _damaged(valid: bytes) -> bytes:
    """One byte of a stored original changed (the manifest no longer matches)."""
    data = bytearray(valid)
    with zipfile.ZipFile(io.BytesIO(valid)) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(".jpg"))
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    data[start] ^= 0xFF
    return bytes(data)


HOSTILE_CASES = {
    "dot-dot": "hostile-archive",
    "absolute": "hostile-archive",
    "windows-drive": "hostile-archive",
    "symlink": "hostile-archive",
    "zip-bomb": "hostile-archive",
    "overlapping": "hostile-archive",
    # zipfile stops at the declared size, then the CRC fails: refused as damaged.
    "lying-size": "invalid-archive",
    "damaged": "invalid-archive",
    "not-a-zip": "invalid-archive",
}


def _hostile(case: str, valid: bytes) -> bytes:
    if case == "dot-dot":
        return _with_member(valid, _named("photos/../../etc/cron.d/evil"), b"x")
    if case == "absolute":
        return _with_member(valid, _named("/etc/passwd"), b"x")
    if case == "windows-drive":
        return _with_member(valid, _named("C:/Windows/evil.dll"), b"x")
    if case == "symlink":
        return _with_member(valid, _symlink(), b"/etc/shadow")
    if case == "zip-bomb":
        return _with_member(valid, *_bomb())
    if case == "lying-size":
        return _lying_size(valid)
    if case == "overlapping":
        return _overlapping(valid)
    if case == "damaged":
        return _damaged(valid)
    return b"PK\x03\x04 this is not really a zip"


def test_hostile_or_damaged_archives_are_refused_and_nothing_imported(
    client: TestClient, alice: Account, bob: Account
) -> None:
    # One account for every case (a container per case would cost a second each): the
    # library must still be empty after each refusal.
    valid = _valid(client, alice)
    for case, problem in HOSTILE_CASES.items():
        r = client.post(
            "/api/takeout/import",
            files={"file": ("takeout.zip", _hostile(case, valid), "application/zip")},
            headers=bob.headers,
        )
        assert r.status_code == 422, (case, r.text)
        assert r.json()["type"].endswith("/" + problem), (case, r.json())
        assert r.json()["detail"], case
        assert client.get("/api/timeline", headers=bob.headers).json()["items"] == [], case
        assert client.get("/api/albums", headers=bob.headers).json() == [], case
    # The same archive, unharmed, imports: the refusals were about the harm.
    r = client.post(
        "/api/takeout/import",
        files={"file": ("takeout.zip", valid, "application/zip")},
        headers=bob.headers,
    )
    assert r.status_code == 200 and r.json()["assets"] == 1


def test_declared_sizes_over_the_limits_are_refused_before_reading() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("photos/2024/a.jpg", b"x" * 2000)
        z.writestr("photos/2024/b.jpg", b"x" * 2000)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        size = len(out.getvalue())
        with pytest.raises(HostileArchive, match="would unpack to 2000 bytes"):
            archive.inspect(z, size, archive.ArchiveLimits(10_000, 1000))
        with pytest.raises(HostileArchive, match="more than 3000 bytes"):
            archive.inspect(z, size, archive.ArchiveLimits(3000, 5000))
        assert set(archive.inspect(z, size, archive.ArchiveLimits(4000, 2000))) == {
            "photos/2024/a.jpg",
            "photos/2024/b.jpg",
        }


def test_an_import_that_would_not_fit_the_quota_imports_nothing(
    client: TestClient, alice: Account, bob: Account
) -> None:
    valid = client.get("/api/takeout", headers=alice.headers).content
    fill_library(client, alice, 3)
    valid = client.get("/api/takeout", headers=alice.headers).content
    client.put(
        f"/api/admin/users/{bob.id}/quota", json={"quota_bytes": 1000}, headers=alice.headers
    )
    r = client.post(
        "/api/takeout/import",
        files={"file": ("takeout.zip", valid, "application/zip")},
        headers=bob.headers,
    )
    assert r.status_code == 507, r.text
    assert client.get("/api/timeline", headers=bob.headers).json()["items"] == []


def test_zip_bomb_ratio_threshold_holds_for_honest_takeouts(
    client: TestClient, alice: Account
) -> None:
    """Our own archives stay far below the ratio the importer refuses."""
    fill_library(client, alice, 3)
    z = takeout_zip(client, alice)
    worst = max(i.file_size / max(i.compress_size, 1) for i in z.infolist())
    assert worst < archive.MAX_COMPRESSION_RATIO / 5


def test_face_regions_and_names_travel_through_the_faces_code(
    client: TestClient, alice: Account, bob: Account
) -> None:
    """The real faces code (with the fake engine: coloured squares are faces) writes the XMP
    of the takeout and reads it back in; without consent nothing of it is imported."""
    h = alice.headers
    client.put("/api/consent/face_recognition", json={"version": 1}, headers=h)
    r = upload(client, alice, photo("anna", "ben", seed=3), "family.jpg")
    assert r.status_code == 201, r.text
    asset_id = r.json()["asset"]["id"]
    faces = client.get(f"/api/assets/{asset_id}/faces", headers=h).json()
    assert len(faces) == 2, faces
    anna = min(faces, key=lambda f: f["box"]["x1"])  # the left square is Anna's
    r = client.put(f"/api/faces/{anna['id']}/person", json={"name": "Anna"}, headers=h)
    assert r.status_code == 200, r.text

    z = takeout_zip(client, alice)
    xmp = z.read("photos/2024/family.jpg.xmp").decode()
    assert xmp.count("<rdf:li") >= 2 and "Anna" in xmp
    assert {p["name"] for p in json.loads(z.read("people.json"))} == {"Anna"}
    exported = client.get("/api/takeout", headers=h).content

    def import_into_bob() -> dict[str, object]:
        r = client.post(
            "/api/takeout/import",
            files={"file": ("takeout.zip", exported, "application/zip")},
            headers=bob.headers,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    without = import_into_bob()
    assert without["assets"] == 1 and without["face_regions"] == 0
    assert len(without["faces_skipped"]) == 1  # type: ignore[arg-type]
    client.put("/api/consent/face_recognition", json={"version": 1}, headers=bob.headers)
    again = import_into_bob()
    assert again["duplicates"] == 1 and again["face_regions"] >= 1, again
    names = {p["name"] for p in client.get("/api/people", headers=bob.headers).json()}
    assert "Anna" in names


def test_real_face_templates_are_exported_only_when_asked_and_counted_in_the_ledger(
    client: TestClient, alice: Account, bob: Account
) -> None:
    """The real faces code (fake engine: coloured squares are faces, with known vectors)
    decrypts the stored templates into the archive, the owner's only, and only on request."""
    h = alice.headers
    client.put("/api/consent/face_recognition", json={"version": 1}, headers=h)
    client.put("/api/consent/face_recognition", json={"version": 1}, headers=bob.headers)
    asset_id = upload(client, alice, photo("anna", "ben", seed=5), "two.jpg").json()["asset"]["id"]
    upload(client, bob, photo("cleo", seed=6), "bobs.jpg")
    stored = {f["id"] for f in client.get(f"/api/assets/{asset_id}/faces", headers=h).json()}
    assert len(stored) == 2

    plain = takeout_zip(client, alice)
    assert "faces/templates.json" not in plain.namelist()
    z = takeout_zip(client, alice, include_templates="true")
    templates = json.loads(z.read("faces/templates.json"))
    assert {t["face_id"] for t in templates} == stored, "every template of the owner, no other"
    assert {t["asset_id"] for t in templates} == {asset_id}
    sidecar_ids = {
        json.loads(z.read(n))["id"]
        for n in z.namelist()
        if n.startswith("photos/") and n.endswith(".json")
    }
    assert asset_id in sidecar_ids, "templates point at photos of the archive"
    by_x = sorted(templates, key=lambda t: t["box"][0])  # Anna is left of Ben
    for template, who in zip(by_x, ("anna", "ben"), strict=True):
        vector = np.array(template["embedding"], dtype=np.float32)
        assert vector.shape == (128,) and template["model_id"] == "fake-1"
        # The fake engine adds noise of length 0.02 to the identity's vector.
        assert np.linalg.norm(vector - IDENTITY[who]) < 0.03, who
    first = repr(templates[0]["embedding"][0]).encode()
    assert not any(first in plain.read(n) for n in plain.namelist()), "no template leaks out"

    entries = client.get("/api/ledger", params={"action": "takeout.exported"}, headers=h).json()[
        "items"
    ]
    assert entries[0]["purpose"] == "face_recognition"
    assert entries[0]["detail"] == {"templates": True, "template_count": 2, "via": "api"}
    assert entries[1]["purpose"] is None and entries[1]["detail"]["templates"] is False


def test_a_user_whose_consent_waits_for_a_new_text_still_takes_all_face_data_along(
    client: TestClient, container: Container, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consent to an older text stops face processing, not the user's access to their data."""
    h = alice.headers
    client.put("/api/consent/face_recognition", json={"version": 1}, headers=h)
    asset_id = upload(client, alice, photo("anna", seed=8), "anna.jpg").json()["asset"]["id"]
    (face,) = client.get(f"/api/assets/{asset_id}/faces", headers=h).json()
    client.put(f"/api/faces/{face['id']}/person", json={"name": "Anna"}, headers=h)

    publish_new_face_recognition_text(container, monkeypatch, " Also in videos.")
    assert client.get(f"/api/assets/{asset_id}/faces.xmp", headers=h).status_code == 403

    z = takeout_zip(client, alice, include_templates="true")
    assert z.testzip() is None
    assert "Anna" in z.read("photos/2024/anna.jpg.xmp").decode()
    assert [t["face_id"] for t in json.loads(z.read("faces/templates.json"))] == [face["id"]]
