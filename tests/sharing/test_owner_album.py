"""The owner's own album (`GET /api/albums/{id}`) with photos its contributors added: those
come in the members' shape (no checksum, no EXIF), and each view is one entry in each
contributor's ledger."""

from __future__ import annotations

from fastapi.testclient import TestClient

from keepsake.app import Container
from tests.helpers import Account
from tests.sharing.conftest import album, ledger, photo, share
from tests.sharing.test_people import consent, face, person


def _contribute(client: TestClient, member: Account, album_id: str, ids: list[str]) -> None:
    r = client.post(
        f"/api/shared/albums/{album_id}/assets", json={"ids": ids}, headers=member.headers
    )
    assert r.status_code == 200, r.text


def test_the_owner_gets_contributors_photos_without_checksums_or_exif(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "contributor")
    b1 = photo(client, bob, 2, make="BobCam", model="B1")
    bob_checksum = client.get(f"/api/assets/{b1}", headers=bob.headers).json()["checksum"]
    _contribute(client, bob, album_id, [b1])

    r = client.get(f"/api/albums/{album_id}", headers=alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["asset_count"] == 2
    by_id = {a["id"]: a for a in body["assets"]}
    mine, theirs = by_id[a1], by_id[b1]
    # My own photo: everything I know of it.
    assert mine["owned_by_me"] is True and len(mine["checksum"]) == 64
    # Bob's: what members see, nothing more.
    assert theirs["owned_by_me"] is False
    assert theirs["owner"]["id"] == bob.id
    assert "checksum" not in theirs and "exif" not in theirs and "is_favorite" not in theirs
    assert theirs["make"] == "BobCam" and theirs["faces"] == []
    assert bob_checksum not in r.text
    # The album's count after a change counts the contributors' photos too, like the list.
    r = client.patch(f"/api/albums/{album_id}", json={"name": "Renamed"}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["asset_count"] == 2


def test_each_view_of_the_album_is_one_entry_in_each_contributors_ledger(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "contributor")
    b1, b2, b3 = (photo(client, bob, i) for i in (2, 3, 4))
    _contribute(client, bob, album_id, [b1, b2, b3])
    before = len(ledger(client, bob, "share.accessed"))

    assert client.get(f"/api/albums/{album_id}", headers=alice.headers).status_code == 200
    entries = ledger(client, bob, "share.accessed")
    assert len(entries) == before + 1  # one for the view, not one per photo
    (entry,) = [e for e in entries if e["actor"] == f"user:{alice.id}"]
    assert entry["actor"] == f"user:{alice.id}"
    assert entry["detail"] == {"via": "album_share", "what": "album"}
    assert entry["object_ids"][0] == album_id
    assert set(entry["object_ids"][1:]) == {b1, b2, b3}

    client.get(f"/api/albums/{album_id}", headers=alice.headers)
    assert len(ledger(client, bob, "share.accessed")) == before + 2
    # The owner's reads of their own photos are in nobody's ledger.
    assert ledger(client, alice, "share.accessed") == []
    assert client.get("/api/ledger/verify", headers=bob.headers).json()["ok"] is True


def test_an_album_with_only_the_owners_photos_writes_no_ledger_entry(
    client: TestClient, alice: Account, bob: Account
) -> None:
    album_id = album(client, alice, [photo(client, alice, 1)])
    share(client, alice, album_id, bob, "contributor")
    assert client.get(f"/api/albums/{album_id}", headers=alice.headers).status_code == 200
    assert ledger(client, alice, "share.accessed") == []
    assert ledger(client, bob, "share.accessed") == []


def test_members_and_strangers_get_the_404_of_an_album_that_never_existed(
    client: TestClient, alice: Account, bob: Account, carol: Account
) -> None:
    album_id = album(client, alice, [photo(client, alice, 1)])
    share(client, alice, album_id, bob, "contributor")
    never = client.get("/api/albums/" + "0" * 26, headers=bob.headers)
    for who in (bob, carol):
        r = client.get(f"/api/albums/{album_id}", headers=who.headers)
        assert r.status_code == 404 and r.content == never.content
    assert ledger(client, alice, "share.accessed") == []


def test_the_owner_sees_names_in_a_contributors_photos_only_with_their_consent(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    album_id = album(client, alice, [])
    share(client, alice, album_id, bob, "contributor")
    b1 = photo(client, bob, 2)  # 64 x 48
    _contribute(client, bob, album_id, [b1])
    face(container, bob, b1, person(container, bob, "Bea"), (8, 4, 24, 20))

    def seen() -> list[object]:
        r = client.get(f"/api/albums/{album_id}", headers=alice.headers)
        assert "embedding" not in r.text and "person_id" not in r.text
        faces: list[object] = r.json()["assets"][0]["faces"]
        return faces

    assert seen() == []
    consent(client, bob, True)
    assert [f["name"] for f in seen()] == ["Bea"]  # type: ignore[index]
    entries = ledger(client, bob, "share.accessed")
    assert [e["purpose"] for e in entries].count("people_sharing") == 1
    consent(client, bob, False)
    assert seen() == []


def test_the_album_page_counts_the_contributors_photos_without_reading_them(
    client: TestClient, alice: Account, bob: Account
) -> None:
    album_id = album(client, alice, [])
    share(client, alice, album_id, bob, "contributor")
    _contribute(client, bob, album_id, [photo(client, bob, 2)])
    before = len(ledger(client, bob, "share.accessed"))

    page = client.get(f"/albums/{album_id}", headers=alice.headers)

    assert page.status_code == 200
    assert ">1 photo<" in page.text  # not "This album is empty" until the script loads
    assert 'id="album-empty" hidden' in page.text
    # The page itself reads no photo of Bob's: the API call of its script is the one entry.
    assert len(ledger(client, bob, "share.accessed")) == before
    assert client.get(f"/albums/{album_id}", headers=bob.headers).status_code == 404
