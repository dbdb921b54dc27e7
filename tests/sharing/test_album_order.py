"""An album's order (arranged by hand or by date) is the order its members and the holders
of a public link to it see; photos a contributor adds go to the end of it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import Account
from tests.sharing.conftest import album, photo, share


def _member_ids(client: TestClient, member: Account, album_id: str) -> list[str]:
    r = client.get(f"/api/shared/albums/{album_id}", headers=member.headers)
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["assets"]]


def test_members_see_the_album_in_its_owners_order_and_additions_go_last(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1, taken="2011:01:01 12:00:00")
    a2 = photo(client, alice, 2, taken="2012:01:01 12:00:00")
    a3 = photo(client, alice, 3, taken="2013:01:01 12:00:00")
    album_id = album(client, alice, [a1, a2, a3])
    share(client, alice, album_id, bob, "contributor")
    assert _member_ids(client, bob, album_id) == [a3, a2, a1]

    r = client.put(
        f"/api/albums/{album_id}/order", json={"ids": [a2, a3, a1]}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    assert _member_ids(client, bob, album_id) == [a2, a3, a1]
    b1 = photo(client, bob, 4, taken="2020:01:01 12:00:00")
    r = client.post(
        f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=bob.headers
    )
    assert r.status_code == 200, r.text
    assert _member_ids(client, bob, album_id) == [a2, a3, a1, b1]
    owners = client.get(f"/api/albums/{album_id}", headers=alice.headers).json()["assets"]
    assert [a["id"] for a in owners] == [a2, a3, a1, b1]

    client.patch(f"/api/albums/{album_id}", json={"order": "oldest_first"}, headers=alice.headers)
    assert _member_ids(client, bob, album_id) == [a1, a2, a3, b1]


def test_a_member_cannot_arrange_the_album(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1, a2 = photo(client, alice, 1), photo(client, alice, 2)
    album_id = album(client, alice, [a1, a2])
    share(client, alice, album_id, bob, "contributor")
    before = _member_ids(client, bob, album_id)
    r = client.put(f"/api/albums/{album_id}/order", json={"ids": before[::-1]}, headers=bob.headers)
    assert r.status_code == 404
    assert _member_ids(client, bob, album_id) == before


def test_a_public_link_to_an_album_lists_its_photos_in_the_albums_order(
    client: TestClient, alice: Account
) -> None:
    a1 = photo(client, alice, 1, taken="2011:01:01 12:00:00")
    a2 = photo(client, alice, 2, taken="2012:01:01 12:00:00")
    a3 = photo(client, alice, 3, taken="2013:01:01 12:00:00")
    album_id = album(client, alice, [a1, a2, a3])
    r = client.post("/api/links", json={"album_id": album_id}, headers=alice.headers)
    assert r.status_code == 201, r.text
    token = r.json()["token"]

    def link_ids() -> list[str]:
        return [a["id"] for a in client.get(f"/api/s/{token}").json()["assets"]]

    assert link_ids() == [a3, a2, a1]
    client.put(f"/api/albums/{album_id}/order", json={"ids": [a1, a3, a2]}, headers=alice.headers)
    assert link_ids() == [a1, a3, a2]
