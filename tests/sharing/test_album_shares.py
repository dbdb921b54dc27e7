"""Albums shared with other users: what the owner, a contributor, a viewer and a stranger may
read, change or learn exists, before and after role changes, leaving and revocation."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import Account
from tests.sharing.conftest import album, ledger, photo, share

FILES = ("thumbnail", "preview", "original")


def _timeline_ids(client: TestClient, account: Account) -> set[str]:
    page = client.get("/api/timeline", headers=account.headers).json()
    return {a["id"] for a in page["items"]}


def test_viewer_sees_the_album_marked_shared_and_reads_every_file(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1, a2 = photo(client, alice, 1), photo(client, alice, 2)
    album_id = album(client, alice, [a1, a2])
    share(client, alice, album_id, bob, "viewer")

    listed = client.get("/api/shared/albums", headers=bob.headers).json()
    assert [(x["id"], x["shared"], x["role"]) for x in listed] == [(album_id, True, "viewer")]
    assert listed[0]["owner"] == {
        "id": alice.id,
        "display_name": listed[0]["owner"]["display_name"],
    }
    assert listed[0]["asset_count"] == 2
    # Not mixed into bob's own albums, which stay his.
    assert client.get("/api/albums", headers=bob.headers).json() == []

    detail = client.get(f"/api/shared/albums/{album_id}", headers=bob.headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["role"] == "viewer" and body["people_visible"] is False
    assert {a["id"] for a in body["assets"]} == {a1, a2}
    assert all(a["owned_by_me"] is False and a["faces"] == [] for a in body["assets"])
    assert all("checksum" not in a for a in body["assets"])

    original = client.get(f"/api/assets/{a1}/original", headers=alice.headers).content
    for kind in FILES:
        r = client.get(f"/api/shared/albums/{album_id}/assets/{a1}/{kind}", headers=bob.headers)
        assert r.status_code == 200, (kind, r.text)
        # Revalidated every time, so a revocation is not outlived by a browser cache.
        assert "no-cache" in r.headers["cache-control"]
    shared_original = client.get(
        f"/api/shared/albums/{album_id}/assets/{a1}/original", headers=bob.headers
    )
    assert shared_original.content == original


def test_viewer_cannot_change_the_album_or_reach_the_owners_library(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)
    b1 = photo(client, bob, 2)
    album_id = album(client, alice, [a1])
    share_id = share(client, alice, album_id, bob, "viewer")
    h = bob.headers

    r = client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=h)
    assert r.status_code == 403 and r.json()["type"].endswith("/not-contributor")
    r = client.post(f"/api/shared/albums/{album_id}/assets/remove", json={"ids": [a1]}, headers=h)
    assert r.status_code == 403
    # The owner's own album routes and the owner's library stay the owner's: 404, not 403.
    assert client.get(f"/api/albums/{album_id}", headers=h).status_code == 404
    assert client.patch(f"/api/albums/{album_id}", json={"name": "x"}, headers=h).status_code == 404
    assert client.delete(f"/api/albums/{album_id}", headers=h).status_code == 404
    assert client.get(f"/api/albums/{album_id}/shares", headers=h).status_code == 404
    r = client.patch(
        f"/api/albums/{album_id}/shares/{share_id}", json={"role": "contributor"}, headers=h
    )
    assert r.status_code == 404
    assert client.delete(f"/api/albums/{album_id}/shares/{share_id}", headers=h).status_code == 404
    assert client.get(f"/api/assets/{a1}", headers=h).status_code == 404
    assert client.get(f"/api/assets/{a1}/original", headers=h).status_code == 404
    assert client.delete(f"/api/assets/{a1}", headers=h).status_code == 404
    assert a1 not in _timeline_ids(client, bob)
    # Nothing changed for the owner.
    assert client.get(f"/api/albums/{album_id}", headers=alice.headers).json()["name"] == "Holiday"
    assert client.get(f"/api/albums/{album_id}", headers=alice.headers).json()["asset_count"] == 1


def test_contributor_adds_own_photos_which_stay_theirs_and_cannot_remove_others(
    client: TestClient, alice: Account, bob: Account, carol: Account
) -> None:
    a1 = photo(client, alice, 1)
    b1, b2 = photo(client, bob, 2), photo(client, bob, 3)
    c1 = photo(client, carol, 4)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "contributor")
    alice_usage = client.get("/api/usage", headers=alice.headers).json()
    bob_usage = client.get("/api/usage", headers=bob.headers).json()

    add = f"/api/shared/albums/{album_id}/assets"
    assert client.post(add, json={"ids": [b1, b2]}, headers=bob.headers).json() == {"count": 2}
    # Only their own photos: alice's and carol's ids are "no such asset" for bob.
    assert client.post(add, json={"ids": [c1]}, headers=bob.headers).status_code == 404
    assert client.post(add, json={"ids": [a1]}, headers=bob.headers).status_code == 404

    # Everyone with access sees all of it; the owner too, through the shared view.
    for who in (alice, bob):
        body = client.get(f"/api/shared/albums/{album_id}", headers=who.headers).json()
        owned = {a["id"]: a["owned_by_me"] for a in body["assets"]}
        assert owned == {a1: who is alice, b1: who is bob, b2: who is bob}
        assert {a["id"]: a["owner"]["id"] for a in body["assets"]}[b1] == bob.id
    r = client.get(f"/api/shared/albums/{album_id}/assets/{b1}/thumbnail", headers=alice.headers)
    assert r.status_code == 200
    assert client.get(f"/api/albums/{album_id}", headers=alice.headers).json()["asset_count"] == 3

    # Counted against the contributor, not the owner.
    assert client.get("/api/usage", headers=alice.headers).json() == alice_usage
    assert client.get("/api/usage", headers=bob.headers).json() == bob_usage

    # The contributor removes their own, never the owner's.
    remove = f"/api/shared/albums/{album_id}/assets/remove"
    assert client.post(remove, json={"ids": [a1]}, headers=bob.headers).status_code == 403
    assert client.post(remove, json={"ids": [b2, a1]}, headers=bob.headers).status_code == 403
    assert client.post(remove, json={"ids": [b2]}, headers=bob.headers).json() == {"count": 1}
    assert b2 in _timeline_ids(client, bob)  # out of the album, still in bob's library

    # The contributor deletes their photo: it leaves the album; the owner cannot delete it.
    assert client.delete(f"/api/assets/{b1}", headers=alice.headers).status_code == 404
    assert client.delete(f"/api/assets/{b1}", headers=bob.headers).status_code == 204
    body = client.get(f"/api/shared/albums/{album_id}", headers=alice.headers).json()
    assert {a["id"] for a in body["assets"]} == {a1}
    r = client.get(f"/api/shared/albums/{album_id}/assets/{b1}/preview", headers=alice.headers)
    assert r.status_code == 404


def test_owner_removes_a_contributors_photo_from_the_album_without_deleting_it(
    client: TestClient, alice: Account, bob: Account
) -> None:
    album_id = album(client, alice, [photo(client, alice, 1)])
    share(client, alice, album_id, bob, "contributor")
    b1 = photo(client, bob, 2)
    client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=bob.headers)

    r = client.post(
        f"/api/shared/albums/{album_id}/assets/remove", json={"ids": [b1]}, headers=alice.headers
    )
    assert r.json() == {"count": 1}
    assert b1 in _timeline_ids(client, bob)
    assert client.get(f"/api/assets/{b1}/original", headers=bob.headers).status_code == 200


def test_a_stranger_learns_nothing_about_a_shared_album(
    client: TestClient, alice: Account, bob: Account, carol: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share_id = share(client, alice, album_id, bob, "contributor")
    h = carol.headers
    missing = "00000000-0000-4000-8000-000000000000"

    assert client.get("/api/shared/albums", headers=h).json() == []
    unknown = client.get(f"/api/shared/albums/{missing}", headers=h)
    real = client.get(f"/api/shared/albums/{album_id}", headers=h)
    assert real.status_code == unknown.status_code == 404
    assert real.json() == unknown.json()  # the same answer as for an album that does not exist
    for kind in FILES:
        r = client.get(f"/api/shared/albums/{album_id}/assets/{a1}/{kind}", headers=h)
        assert r.status_code == 404
    for method, path, body in [
        ("POST", f"/api/shared/albums/{album_id}/assets", {"ids": [photo(client, carol, 9)]}),
        ("POST", f"/api/shared/albums/{album_id}/assets/remove", {"ids": [a1]}),
        ("POST", f"/api/shared/albums/{album_id}/leave", None),
        ("GET", f"/api/albums/{album_id}/shares", None),
        ("POST", f"/api/albums/{album_id}/shares", {"email": carol.email}),
        ("PATCH", f"/api/albums/{album_id}/shares/{share_id}", {"role": "viewer"}),
        ("DELETE", f"/api/albums/{album_id}/shares/{share_id}", None),
    ]:
        r = client.request(method, path, json=body, headers=h)
        assert r.status_code == 404, (method, path, r.text)
    # Nothing changed.
    shares = client.get(f"/api/albums/{album_id}/shares", headers=alice.headers).json()
    assert [(s["recipient"]["id"], s["role"]) for s in shares] == [(bob.id, "contributor")]
    # Without logging in, nothing at all.
    assert client.get(f"/api/shared/albums/{album_id}").status_code == 401


def test_revocation_takes_effect_on_the_next_request(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share_id = share(client, alice, album_id, bob, "viewer")
    thumb = f"/api/shared/albums/{album_id}/assets/{a1}/thumbnail"
    first = client.get(thumb, headers=bob.headers)
    assert first.status_code == 200

    r = client.delete(f"/api/albums/{album_id}/shares/{share_id}", headers=alice.headers)
    assert r.status_code == 204
    assert client.get("/api/shared/albums", headers=bob.headers).json() == []
    assert client.get(f"/api/shared/albums/{album_id}", headers=bob.headers).status_code == 404
    # Even a conditional request with the entity tag bob holds gets no 304.
    etag = first.headers["etag"]
    r = client.get(thumb, headers={**bob.headers, "If-None-Match": etag})
    assert r.status_code == 404


def test_revoking_a_contributor_takes_their_photos_out_of_the_album(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share_id = share(client, alice, album_id, bob, "contributor")
    b1 = photo(client, bob, 2)
    client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=bob.headers)
    client.patch(f"/api/albums/{album_id}", json={"cover_asset_id": b1}, headers=alice.headers)

    client.delete(f"/api/albums/{album_id}/shares/{share_id}", headers=alice.headers)
    body = client.get(f"/api/albums/{album_id}", headers=alice.headers).json()
    assert [a["id"] for a in body["assets"]] == [a1]
    assert body["cover_asset_id"] is None  # never left pointing at a former member's photo
    assert b1 in _timeline_ids(client, bob)


def test_role_changes_apply_at_once(client: TestClient, alice: Account, bob: Account) -> None:
    album_id = album(client, alice, [photo(client, alice, 1)])
    share_id = share(client, alice, album_id, bob, "viewer")
    b1, b2 = photo(client, bob, 2), photo(client, bob, 3)
    add = f"/api/shared/albums/{album_id}/assets"

    assert client.post(add, json={"ids": [b1]}, headers=bob.headers).status_code == 403
    r = client.patch(
        f"/api/albums/{album_id}/shares/{share_id}",
        json={"role": "contributor"},
        headers=alice.headers,
    )
    assert r.status_code == 200 and r.json()["role"] == "contributor"
    assert client.post(add, json={"ids": [b1, b2]}, headers=bob.headers).status_code == 200
    r = client.patch(
        f"/api/albums/{album_id}/shares/{share_id}", json={"role": "viewer"}, headers=alice.headers
    )
    assert r.json()["role"] == "viewer"
    body = client.get(f"/api/shared/albums/{album_id}", headers=bob.headers).json()
    assert body["role"] == "viewer"
    assert client.post(add, json={"ids": [b1]}, headers=bob.headers).status_code == 403
    # A former contributor keeps control of the photos they added: they can take them out.
    remove = f"/api/shared/albums/{album_id}/assets/remove"
    assert client.post(remove, json={"ids": [b1]}, headers=bob.headers).json() == {"count": 1}


def test_a_member_leaves_and_their_photos_go_with_them(
    client: TestClient, alice: Account, bob: Account, carol: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "contributor")
    share(client, alice, album_id, carol, "viewer")
    b1 = photo(client, bob, 2)
    client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=bob.headers)

    r = client.post(f"/api/shared/albums/{album_id}/leave", headers=bob.headers)
    assert r.status_code == 204
    assert client.get("/api/shared/albums", headers=bob.headers).json() == []
    assert client.get(f"/api/shared/albums/{album_id}", headers=bob.headers).status_code == 404
    assert (
        client.post(f"/api/shared/albums/{album_id}/leave", headers=bob.headers).status_code == 404
    )
    # Carol no longer sees bob's photo; bob still has it.
    body = client.get(f"/api/shared/albums/{album_id}", headers=carol.headers).json()
    assert [a["id"] for a in body["assets"]] == [a1]
    assert b1 in _timeline_ids(client, bob)
    # The owner cannot leave their own album (they delete it instead).
    r = client.post(f"/api/shared/albums/{album_id}/leave", headers=alice.headers)
    assert r.status_code == 409


def test_deleting_a_shared_album_deletes_nobodys_photos(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "contributor")
    b1 = photo(client, bob, 2)
    client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=bob.headers)
    usage = {who.id: client.get("/api/usage", headers=who.headers).json() for who in (alice, bob)}

    assert client.delete(f"/api/albums/{album_id}", headers=alice.headers).status_code == 204
    assert client.get("/api/shared/albums", headers=bob.headers).json() == []
    assert client.get(f"/api/shared/albums/{album_id}", headers=bob.headers).status_code == 404
    assert a1 in _timeline_ids(client, alice) and b1 in _timeline_ids(client, bob)
    for who in (alice, bob):
        assert client.get("/api/usage", headers=who.headers).json() == usage[who.id]


def test_sharing_refuses_self_unknown_users_duplicates_and_unknown_roles(
    client: TestClient, alice: Account, bob: Account
) -> None:
    album_id = album(client, alice, [])
    url = f"/api/albums/{album_id}/shares"
    h = alice.headers
    assert client.post(url, json={"email": alice.email}, headers=h).status_code == 422
    r = client.post(url, json={"email": "nobody@example.org"}, headers=h)
    assert r.status_code == 404
    assert (
        client.post(url, json={"email": bob.email, "role": "admin"}, headers=h).status_code == 422
    )
    assert client.post(url, json={"email": " BOB@example.org "}, headers=h).status_code == 201
    assert client.post(url, json={"email": bob.email}, headers=h).status_code == 409
    shares = client.get(url, headers=h).json()
    assert [(s["recipient"]["email"], s["role"]) for s in shares] == [(bob.email, "viewer")]


def test_a_read_only_api_key_can_read_a_shared_album_but_not_change_it(
    client: TestClient, alice: Account, bob: Account
) -> None:
    album_id = album(client, alice, [photo(client, alice, 1)])
    share(client, alice, album_id, bob, "contributor")
    r = client.post("/api/api-keys", json={"name": "r", "scopes": ["read"]}, headers=bob.headers)
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['secret']}"}
    assert client.get(f"/api/shared/albums/{album_id}", headers=key).status_code == 200
    b1 = photo(client, bob, 2)
    r = client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=key)
    assert r.status_code == 403
    assert client.post(f"/api/shared/albums/{album_id}/leave", headers=key).status_code == 403


def test_every_read_by_a_member_is_in_the_owners_ledger_and_none_of_the_owners_own(
    client: TestClient, alice: Account, bob: Account, carol: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "contributor")
    share(client, alice, album_id, carol, "viewer")
    b1 = photo(client, bob, 2)
    client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=bob.headers)
    before_alice = len(ledger(client, alice, "share.accessed"))
    assert before_alice == 0

    client.get(f"/api/shared/albums/{album_id}", headers=carol.headers)
    for kind in FILES:
        client.get(f"/api/shared/albums/{album_id}/assets/{a1}/{kind}", headers=carol.headers)
    client.get(f"/api/shared/albums/{album_id}/assets/{b1}/preview", headers=carol.headers)
    # The owner reading their own album is no shared access.
    client.get(f"/api/shared/albums/{album_id}", headers=alice.headers)
    client.get(f"/api/shared/albums/{album_id}/assets/{a1}/preview", headers=alice.headers)

    entries = ledger(client, alice, "share.accessed")
    assert all(e["actor"] == f"user:{carol.id}" for e in entries)
    what = sorted(e["detail"]["what"] for e in entries)
    assert what == sorted(["album", *FILES])
    listing = next(e for e in entries if e["detail"]["what"] == "album")
    assert listing["object_ids"][0] == album_id and a1 in listing["object_ids"]
    assert b1 not in listing["object_ids"]  # bob's photo is in bob's ledger, not alice's
    # Bob's photo, read by carol (and by alice, the album's owner), is in bob's ledger.
    bob_entries = ledger(client, bob, "share.accessed")
    readers = {(e["actor"], e["detail"]["what"]) for e in bob_entries}
    assert (f"user:{carol.id}", "preview") in readers
    assert (f"user:{carol.id}", "album") in readers
    assert (f"user:{alice.id}", "album") in readers
    # Bob reading his own photo through the album writes nothing to his ledger.
    n = len(bob_entries)
    client.get(f"/api/shared/albums/{album_id}/assets/{b1}/preview", headers=bob.headers)
    assert len(ledger(client, bob, "share.accessed")) == n
    assert client.get("/api/ledger/verify", headers=alice.headers).json()["ok"] is True
