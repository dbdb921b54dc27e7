"""People in shared albums: names and boxes only, only with the photo owner's `people_sharing`
consent, hidden again the moment it is withdrawn; never templates, never to link holders,
and never a face search over the owner's library."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from keepsake.app import Container
from keepsake.ids import new_id
from keepsake.storage.models import Face, Person
from tests.helpers import Account
from tests.sharing.conftest import album, ledger, photo, share

TEMPLATE = b"\x13\x37template-bytes-that-must-never-leave"


def person(container: Container, owner: Account, name: str | None, hidden: bool = False) -> str:
    now = datetime.now(UTC)
    row = Person(
        id=new_id(),
        owner_id=owner.id,
        name=name,
        is_hidden=hidden,
        is_confirmed=name is not None,
        created_at=now,
        updated_at=now,
    )
    with container.db.write() as s:
        s.add(row)
    return row.id


def face(
    container: Container,
    owner: Account,
    asset_id: str,
    person_id: str | None,
    box: tuple[float, float, float, float],
) -> None:
    x1, y1, x2, y2 = box
    with container.db.write() as s:
        s.add(
            Face(
                id=new_id(),
                owner_id=owner.id,
                asset_id=asset_id,
                person_id=person_id,
                taken_at=datetime.now(UTC),
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
                landmarks=[[1.0, 2.0]] * 5,
                confidence=0.99,
                quality=0.9,
                is_seed=True,
                embedding=TEMPLATE,
                model_id="test-model",
                source="detected",
                assigned_by="user",
                created_at=datetime.now(UTC),
            )
        )


def consent(client: TestClient, account: Account, granted: bool) -> None:
    if granted:
        r = client.put("/api/consent/people_sharing", json={"version": 1}, headers=account.headers)
    else:
        r = client.delete("/api/consent/people_sharing", headers=account.headers)
    assert r.status_code == 200, r.text


def faces_seen(client: TestClient, viewer: Account, album_id: str) -> dict[str, Any]:
    r = client.get(f"/api/shared/albums/{album_id}", headers=viewer.headers)
    assert r.status_code == 200, r.text
    for forbidden in ("embedding", "landmarks", "person_id", "template", "Hidden Hal"):
        assert forbidden not in r.text
    assert TEMPLATE.hex() not in r.text
    return {a["id"]: a["faces"] for a in r.json()["assets"] if a["faces"]}


def test_named_people_are_shown_only_while_the_owner_consents(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)  # 64 x 48
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "viewer")
    face(container, alice, a1, person(container, alice, "Anna"), (8, 4, 24, 20))
    face(container, alice, a1, person(container, alice, None), (30, 4, 40, 14))  # unnamed
    face(container, alice, a1, person(container, alice, "Hidden Hal", hidden=True), (0, 0, 5, 5))
    face(container, alice, a1, None, (50, 30, 60, 40))  # not assigned to anyone

    assert faces_seen(client, bob, album_id) == {}
    assert (
        client.get(f"/api/shared/albums/{album_id}", headers=bob.headers).json()["people_visible"]
        is False
    )

    consent(client, alice, True)
    seen = faces_seen(client, bob, album_id)
    assert seen == {
        a1: [{"name": "Anna", "left": 0.125, "top": 0.0833, "width": 0.25, "height": 0.3333}]
    }
    assert (
        client.get(f"/api/shared/albums/{album_id}", headers=bob.headers).json()["people_visible"]
        is True
    )
    shown = [e for e in ledger(client, alice, "share.accessed") if e["purpose"]]
    assert shown and all(e["purpose"] == "people_sharing" for e in shown)

    consent(client, alice, False)
    assert faces_seen(client, bob, album_id) == {}  # at once, on the very next request


def test_each_photos_owner_decides_for_the_people_in_their_own_photos(
    client: TestClient, container: Container, alice: Account, bob: Account, carol: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "contributor")
    share(client, alice, album_id, carol, "viewer")
    b1 = photo(client, bob, 2)
    client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=bob.headers)
    face(container, alice, a1, person(container, alice, "Anna"), (8, 4, 24, 20))
    face(container, bob, b1, person(container, bob, "Ben"), (8, 4, 24, 20))

    consent(client, alice, True)  # the album's owner consents: not for bob's photo
    assert [f["name"] for fs in faces_seen(client, carol, album_id).values() for f in fs] == [
        "Anna"
    ]
    consent(client, bob, True)
    seen = faces_seen(client, carol, album_id)
    assert {a: [f["name"] for f in fs] for a, fs in seen.items()} == {a1: ["Anna"], b1: ["Ben"]}
    consent(client, alice, False)
    assert list(faces_seen(client, carol, album_id)) == [b1]


def test_link_holders_never_see_people(
    client: TestClient, container: Container, alice: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    face(container, alice, a1, person(container, alice, "Anna"), (8, 4, 24, 20))
    consent(client, alice, True)
    token = client.post(
        "/api/links", json={"album_id": album_id, "hide_metadata": False}, headers=alice.headers
    ).json()["token"]
    r = client.get(f"/api/s/{token}")
    assert r.status_code == 200
    assert "Anna" not in r.text and "faces" not in r.text


def test_a_member_gets_no_face_data_or_face_search_over_the_owners_library(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "viewer")
    anna = person(container, alice, "Anna")
    face(container, alice, a1, anna, (8, 4, 24, 20))
    consent(client, alice, True)
    assert faces_seen(client, bob, album_id)  # the shared album shows her name ...

    # ... and nothing else about alice's faces or people is within bob's reach.
    for path in (
        "/api/people",
        f"/api/people/{anna}",
        f"/api/assets/{a1}/faces",
        f"/api/assets/{a1}/faces.xmp",
        "/api/search/people?name=Anna",
        "/api/search/people?q=Anna",
    ):
        r = client.get(path, headers=bob.headers)
        assert r.status_code in (200, 403, 404, 422), (path, r.status_code)
        assert "Anna" not in r.text and anna not in r.text, path
