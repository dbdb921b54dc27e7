"""Account deletion: the password again, a grace period that logging in cancels, the purge
job, administrators' deletions on their own ledger, and nothing of the account left behind
in any file or table."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from keepsake.app import Container
from keepsake.clock import ManualClock
from keepsake.consent.jobs import PURGE_ACCOUNTS_JOB
from keepsake.ids import token_hash
from keepsake.storage.models import Asset, Face, Person
from tests.consent.conftest import FakeFaces, fill_library
from tests.faces.conftest import IDENTITY, photo
from tests.helpers import Account, jpeg_bytes, new_account, rows_holding, upload

pytestmark = pytest.mark.postgres
GRACE = timedelta(days=7, hours=1)


def _delete_me(client: TestClient, account: Account, password: str | None = None) -> object:
    return client.post(
        "/api/account/deletion",
        json={"password": password or account.password},
        headers=account.headers,
    )


def _login(client: TestClient, account: Account) -> int:
    r = client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    client.cookies.clear()
    return r.status_code


def test_deleting_needs_the_password_and_ends_every_session_and_key(
    client: TestClient, clock: ManualClock, alice: Account, bob: Account
) -> None:
    key = client.post("/api/api-keys", json={"name": "backup"}, headers=bob.headers).json()
    r = _delete_me(client, bob, "not my password")
    assert r.status_code == 403 and r.json()["type"].endswith("/wrong-password")  # type: ignore[attr-defined]
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200

    r = _delete_me(client, bob)
    assert r.status_code == 202, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["scheduled"] and not body["by_admin"]
    assert body["purge_after"].startswith((clock.now() + timedelta(days=7)).date().isoformat())
    assert client.get("/api/users/me", headers=bob.headers).status_code == 401
    api_key = {"Authorization": f"Bearer {key['secret']}"}
    assert client.get("/api/users/me", headers=api_key).status_code == 401


def test_logging_in_again_cancels_a_deletion_the_user_asked_for(
    client: TestClient, container: Container, clock: ManualClock, alice: Account, bob: Account
) -> None:
    fill_library(client, bob, 1)
    _delete_me(client, bob)
    clock.advance(timedelta(days=6))
    r = client.post("/api/auth/login", json={"email": bob.email, "password": bob.password})
    assert r.status_code == 200
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    client.cookies.clear()
    assert client.get("/api/account/deletion", headers=headers).json() == {
        "scheduled": False,
        "deletion_id": None,
        "requested_at": None,
        "purge_after": None,
        "by_admin": False,
    }
    clock.advance(GRACE)
    container.jobs.enqueue(PURGE_ACCOUNTS_JOB)
    assert len(client.get("/api/timeline", headers=headers).json()["items"]) == 1
    actions = [e["action"] for e in client.get("/api/ledger", headers=headers).json()["items"]]
    assert actions[:2] == ["account.deletion_cancelled", "account.deletion_scheduled"]


def test_the_account_is_purged_when_the_grace_period_ends(
    client: TestClient, container: Container, clock: ManualClock, alice: Account, bob: Account
) -> None:
    _delete_me(client, bob)
    clock.advance(timedelta(days=6))
    container.jobs.enqueue(PURGE_ACCOUNTS_JOB)
    assert bob.id in {u["id"] for u in client.get("/api/admin/users", headers=alice.headers).json()}
    clock.advance(GRACE - timedelta(days=6))
    container.jobs.enqueue(PURGE_ACCOUNTS_JOB)
    assert bob.id not in {
        u["id"] for u in client.get("/api/admin/users", headers=alice.headers).json()
    }
    assert _login(client, bob) == 401


def test_an_administrators_deletion_is_on_their_own_ledger_by_deletion_not_account(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    r = client.post(f"/api/admin/users/{bob.id}/deletion", json={}, headers=alice.headers)
    assert r.status_code == 202, r.text
    deletion_id = r.json()["deletion_id"]
    assert r.json()["by_admin"]
    assert _login(client, bob) == 401, "disabled during the grace period; a login cannot cancel"

    r = client.delete(f"/api/admin/users/{bob.id}/deletion", headers=alice.headers)
    assert r.status_code == 204
    assert _login(client, bob) == 200, "enabled again"

    r = client.post(
        f"/api/admin/users/{bob.id}/deletion", json={"immediate": True}, headers=alice.headers
    )
    assert r.status_code == 202
    assert bob.id not in {
        u["id"] for u in client.get("/api/admin/users", headers=alice.headers).json()
    }
    entries = client.get("/api/ledger", headers=alice.headers).json()["items"]
    mine = [e for e in entries if e["action"].startswith("admin.")]
    assert [e["action"] for e in mine] == [
        "admin.account_purged",
        "admin.account_deletion_scheduled",
        "admin.account_deletion_cancelled",
        "admin.account_deletion_scheduled",
    ]
    assert mine[-1]["object_ids"] == [deletion_id]
    assert bob.id not in str(entries), "the admin's ledger does not keep the account's id"


def test_the_last_administrator_cannot_delete_their_account(
    client: TestClient, alice: Account
) -> None:
    r = _delete_me(client, alice)
    assert r.status_code == 409  # type: ignore[attr-defined]
    r = client.post(f"/api/admin/users/{alice.id}/deletion", json={}, headers=alice.headers)
    assert r.status_code == 409


def test_deletion_leaves_nothing_that_identifies_the_account(
    client: TestClient,
    container: Container,
    clock: ManualClock,
    alice: Account,
    faces: FakeFaces,
    tmp_path: Path,
) -> None:
    keep = jpeg_bytes((120, 90), seed=250)
    kept_id = upload(client, alice, keep, "alice-keeps-this.jpg").json()["asset"]["id"]
    leaver = new_account(client, "robert.leaves@example.org", admin_headers=alice.headers)

    # Fill the account with everything an account can hold.
    files = {f"robert-{i}-secret-name.jpg": jpeg_bytes((160, 120), seed=260 + i) for i in range(3)}
    asset_ids = []
    for name, data in files.items():
        r = upload(client, leaver, data, name)
        assert r.status_code == 201, r.text
        asset_ids.append(r.json()["asset"]["id"])
    album_id = client.post(
        "/api/albums", json={"name": "robert-private-album"}, headers=leaver.headers
    ).json()["id"]
    client.post(f"/api/albums/{album_id}/assets", json={"ids": asset_ids}, headers=leaver.headers)
    client.patch(f"/api/assets/{asset_ids[0]}", json={"is_favorite": True}, headers=leaver.headers)
    client.delete(f"/api/assets/{asset_ids[2]}", headers=leaver.headers)
    client.put("/api/consent/face_recognition", json={"version": 1}, headers=leaver.headers)
    faces.templates[leaver.id] = [b"robert-face-template" * 8]
    # Real face data too (the fake engine reads coloured squares as faces): sealed templates,
    # face groups, a named person, a saved template matrix.
    with_faces = upload(client, leaver, photo("anna", "ben", seed=280), "robert-faces.jpg")
    face_asset = with_faces.json()["asset"]["id"]
    found = client.get(f"/api/assets/{face_asset}/faces", headers=leaver.headers).json()
    assert len(found) == 2, found
    r = client.put(
        f"/api/faces/{found[0]['id']}/person",
        json={"name": "robert-private-person"},
        headers=leaver.headers,
    )
    assert r.status_code == 200, r.text
    container.faces.cache.drop(leaver.id)
    container.faces.match_faces(leaver.id, [IDENTITY["anna"]], "fake-1")  # saves the matrix
    assert list(container.blobs.keys(f"face-templates/{leaver.id}/"))
    with container.db.read() as s:
        sealed = [
            (face_id, bytes(template))
            for face_id, template in s.execute(
                select(Face.id, Face.embedding).where(Face.owner_id == leaver.id)
            )
        ]
        person_ids = list(s.scalars(select(Person.id).where(Person.owner_id == leaver.id)))
    assert len(sealed) == 2 and person_ids
    key_id = client.post("/api/api-keys", json={"name": "phone"}, headers=leaver.headers).json()[
        "id"
    ]
    assert client.get("/api/takeout", headers=leaver.headers).status_code == 200
    unfinished = jpeg_bytes((400, 300), seed=270)
    tus = {**leaver.headers, "Tus-Resumable": "1.0.0"}
    created = client.post("/api/uploads", headers={**tus, "Upload-Length": str(len(unfinished))})
    assert created.status_code == 201, created.text
    upload_id = created.headers["location"].rsplit("/", 1)[-1]
    client.patch(
        created.headers["location"],
        content=unfinished[: len(unfinished) // 2],
        headers={
            **tus,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    with container.db.read() as s:
        keyed = list(
            s.scalars(
                select(Asset.checksum_key).where(
                    Asset.owner_id == leaver.id, Asset.id != face_asset
                )
            )
        )
        assert len(keyed) == 3

    assert _delete_me(client, leaver, "a wrong password first").status_code == 403  # type: ignore[attr-defined]
    assert _delete_me(client, leaver).status_code == 202  # type: ignore[attr-defined]
    clock.advance(GRACE)
    container.jobs.enqueue(PURGE_ACCOUNTS_JOB)

    identifiers: dict[str, bytes] = {
        "user id": leaver.id.encode(),
        "email": leaver.email.encode(),
        "display name": b"robert.leaves",
        "album id": album_id.encode(),
        "album name": b"robert-private-album",
        "api key id": key_id.encode(),
        "upload id": upload_id.encode(),
        "throttle key (hash of the email)": token_hash("account:" + leaver.email).encode(),
        "face template": b"robert-face-template",
    }
    for i, (name, data) in enumerate(files.items()):
        identifiers[f"asset id {i}"] = asset_ids[i].encode()
        identifiers[f"file name {i}"] = name.encode()
        identifiers[f"sha256 {i}"] = hashlib.sha256(data).hexdigest().encode()
        identifiers[f"keyed checksum {i}"] = keyed[i].encode()
        middle = len(data) // 2
        identifiers[f"file bytes {i}"] = data[middle : middle + 48]
    identifiers["unfinished upload bytes"] = unfinished[100:148]
    identifiers["photo with faces"] = face_asset.encode()
    identifiers["person name"] = b"robert-private-person"
    for face_id, template in sealed:
        identifiers[f"face id {face_id}"] = face_id.encode()
        identifiers[f"sealed template {face_id}"] = template[len(template) // 2 :][:48]
    for person_id in person_ids:
        identifiers[f"person id {person_id}"] = person_id.encode()

    # Every file of the installation: the data directory and the database files.
    found = []
    scanned = []
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            scanned.append(path.relative_to(tmp_path).as_posix())
            found += [
                f"{what} in {path}" for what, value in identifiers.items() if value in content
            ]
        if leaver.id in path.name:
            found.append(f"a path named after the account: {path}")
    assert f"data/blobs/originals/{alice.id}/{kept_id}" in scanned, "the scan read the data"
    if container.db.is_sqlite:
        assert "keepsake.db" in scanned
    # Every row of every table (PostgreSQL keeps its files elsewhere: read it through SQL).
    found += rows_holding(container, identifiers)
    assert found == [], "\n".join(found)

    assert leaver.id not in faces.templates, "templates deleted through the withdrawal hook"
    assert not [k for k in container.blobs.keys() if leaver.id in k]
    # Everyone else's library is untouched.
    original = client.get(f"/api/assets/{kept_id}/original", headers=alice.headers)
    assert original.status_code == 200 and original.content == keep
    assert container.ledger.verify_chain(alice.id).ok
