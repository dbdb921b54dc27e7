"""The timeline, thumbnails and previews, favourites, albums, trash and usage."""

from __future__ import annotations

import io
from datetime import timedelta

from fastapi.testclient import TestClient
from PIL import Image

from keepsake.app import Container
from keepsake.clock import ManualClock
from keepsake.media.derive import PREVIEW_SLACK
from tests.helpers import Account, jpeg_bytes, upload


def _upload_dated(client: TestClient, account: Account, n: int) -> list[str]:
    ids = []
    for i in range(n):
        taken = f"20{10 + i % 10}:0{1 + i % 9}:1{i % 10} 12:00:00"
        r = upload(
            client,
            account,
            jpeg_bytes(
                (64, 48), seed=i, taken=taken, offset=None, make="Canon" if i % 2 else "Nikon"
            ),
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["asset"]["id"])
    return ids


def test_timeline_is_newest_first_with_cursor_pages(client: TestClient, alice: Account) -> None:
    _upload_dated(client, alice, 7)
    seen: list[dict[str, str]] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/timeline", params=params, headers=alice.headers).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7
    assert len({a["id"] for a in seen}) == 7
    times = [a["taken_at"] for a in seen]
    assert times == sorted(times, reverse=True)


def test_timeline_filters_by_date_and_camera(client: TestClient, alice: Account) -> None:
    _upload_dated(client, alice, 6)
    nikon = client.get("/api/timeline", params={"make": "Nikon"}, headers=alice.headers).json()
    assert {a["make"] for a in nikon["items"]} == {"Nikon"} and len(nikon["items"]) == 3
    ranged = client.get(
        "/api/timeline",
        params={"taken_from": "2012-01-01T00:00:00Z", "taken_to": "2014-01-01T00:00:00Z"},
        headers=alice.headers,
    ).json()
    assert sorted(a["taken_at"][:4] for a in ranged["items"]) == ["2012", "2013"]


def test_timeline_rejects_a_forged_cursor_and_absurd_limits(
    client: TestClient, alice: Account
) -> None:
    r = client.get("/api/timeline", params={"cursor": "!!notacursor"}, headers=alice.headers)
    assert r.status_code == 422
    assert (
        client.get("/api/timeline", params={"limit": 100000}, headers=alice.headers).status_code
        == 422
    )


def test_thumbnail_and_preview_are_made_with_orientation_applied(
    client: TestClient, alice: Account
) -> None:
    # Stored landscape, orientation 6: displayed as portrait.
    data = jpeg_bytes((3000, 2000), orientation=6)
    asset = upload(client, alice, data).json()["asset"]
    assert (asset["width"], asset["height"]) == (2000, 3000)
    preview = client.get(f"/api/assets/{asset['id']}/preview", headers=alice.headers)
    assert preview.status_code == 200
    assert "immutable" in preview.headers["cache-control"]
    with Image.open(io.BytesIO(preview.content)) as im:
        assert im.height > im.width
        # ~1440: a JPEG keeps libjpeg-turbo's n/8 scale when within PREVIEW_SLACK of it.
        assert 1440 <= max(im.size) <= 1440 * PREVIEW_SLACK
    thumb = client.get(f"/api/assets/{asset['id']}/thumbnail", headers=alice.headers)
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert im.height > im.width
        assert 200 <= min(im.size) <= 300


def test_favourites(client: TestClient, alice: Account) -> None:
    ids = _upload_dated(client, alice, 3)
    r = client.patch(f"/api/assets/{ids[1]}", json={"is_favorite": True}, headers=alice.headers)
    assert r.json()["is_favorite"] is True
    favs = client.get("/api/timeline", params={"favorites": True}, headers=alice.headers)
    assert [a["id"] for a in favs.json()["items"]] == [ids[1]]


def test_albums_create_rename_add_remove_delete(client: TestClient, alice: Account) -> None:
    ids = _upload_dated(client, alice, 3)
    album = client.post("/api/albums", json={"name": "Holiday"}, headers=alice.headers).json()
    r = client.post(
        f"/api/albums/{album['id']}/assets", json={"ids": ids[:2] + ids[:1]}, headers=alice.headers
    )
    assert r.json() == {"count": 2}
    detail = client.get(f"/api/albums/{album['id']}", headers=alice.headers).json()
    assert {a["id"] for a in detail["assets"]} == set(ids[:2])
    assert detail["cover_asset_id"] == ids[0]
    renamed = client.patch(
        f"/api/albums/{album['id']}", json={"name": "Greece 2024"}, headers=alice.headers
    ).json()
    assert renamed["name"] == "Greece 2024" and renamed["asset_count"] == 2
    r = client.post(
        f"/api/albums/{album['id']}/assets/remove", json={"ids": [ids[0]]}, headers=alice.headers
    )
    assert r.json() == {"count": 1}
    listed = client.get("/api/albums", headers=alice.headers).json()
    assert [(a["name"], a["asset_count"]) for a in listed] == [("Greece 2024", 1)]
    assert client.delete(f"/api/albums/{album['id']}", headers=alice.headers).status_code == 204
    assert client.get(f"/api/albums/{album['id']}", headers=alice.headers).status_code == 404
    # Deleting the album kept the photos.
    assert len(client.get("/api/timeline", headers=alice.headers).json()["items"]) == 3


def test_albums_are_private_and_refuse_foreign_assets(
    client: TestClient, alice: Account, bob: Account
) -> None:
    alice_ids = _upload_dated(client, alice, 1)
    album = client.post("/api/albums", json={"name": "Mine"}, headers=alice.headers).json()
    assert client.get(f"/api/albums/{album['id']}", headers=bob.headers).status_code == 404
    assert client.get("/api/albums", headers=bob.headers).json() == []
    for method, path, body in [
        ("PATCH", f"/api/albums/{album['id']}", {"name": "x"}),
        ("DELETE", f"/api/albums/{album['id']}", None),
        ("POST", f"/api/albums/{album['id']}/assets", {"ids": alice_ids}),
        ("POST", f"/api/albums/{album['id']}/assets/remove", {"ids": alice_ids}),
    ]:
        assert client.request(method, path, json=body, headers=bob.headers).status_code == 404
    bobs = client.post("/api/albums", json={"name": "Bob's"}, headers=bob.headers).json()
    r = client.post(
        f"/api/albums/{bobs['id']}/assets", json={"ids": alice_ids}, headers=bob.headers
    )
    assert r.status_code == 404


def _album_with(client: TestClient, account: Account, ids: list[str]) -> str:
    album_id: str = client.post(
        "/api/albums", json={"name": "Ordered"}, headers=account.headers
    ).json()["id"]
    r = client.post(f"/api/albums/{album_id}/assets", json={"ids": ids}, headers=account.headers)
    assert r.status_code == 200, r.text
    return album_id


def _album_ids(client: TestClient, account: Account, album_id: str) -> list[str]:
    r = client.get(f"/api/albums/{album_id}", headers=account.headers)
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["assets"]]


def test_an_album_keeps_the_order_its_owner_puts_its_photos_in(
    client: TestClient, alice: Account
) -> None:
    a, b, c, d = _upload_dated(client, alice, 4)  # taken 2010, 2011, 2012, 2013
    album_id = _album_with(client, alice, [a, b, c])
    detail = client.get(f"/api/albums/{album_id}", headers=alice.headers).json()
    assert detail["order"] == "newest_first"  # as albums have always been
    assert [x["id"] for x in detail["assets"]] == [c, b, a]

    r = client.put(f"/api/albums/{album_id}/order", json={"ids": [b, a, c]}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["order"] == "manual" and r.json()["asset_count"] == 3
    assert _album_ids(client, alice, album_id) == [b, a, c]
    # A photo added later goes to the end, whatever its date.
    client.post(f"/api/albums/{album_id}/assets", json={"ids": [d]}, headers=alice.headers)
    assert _album_ids(client, alice, album_id) == [b, a, c, d]

    r = client.patch(
        f"/api/albums/{album_id}", json={"order": "oldest_first"}, headers=alice.headers
    )
    assert r.status_code == 200 and r.json()["order"] == "oldest_first"
    assert _album_ids(client, alice, album_id) == [a, b, c, d]
    client.patch(f"/api/albums/{album_id}", json={"order": "newest_first"}, headers=alice.headers)
    assert _album_ids(client, alice, album_id) == [d, c, b, a]
    # The hand-made order was kept while the album showed another.
    client.patch(f"/api/albums/{album_id}", json={"order": "manual"}, headers=alice.headers)
    assert _album_ids(client, alice, album_id) == [b, a, c, d]
    listed = client.get("/api/albums", headers=alice.headers).json()
    assert [x["order"] for x in listed] == ["manual"]
    bad = client.patch(f"/api/albums/{album_id}", json={"order": "random"}, headers=alice.headers)
    assert bad.status_code == 422


def test_an_album_order_that_is_not_the_albums_photos_changes_nothing(
    client: TestClient, alice: Account
) -> None:
    a, b, c, elsewhere = _upload_dated(client, alice, 4)
    album_id = _album_with(client, alice, [a, b, c])
    for ids in ([a, b], [a, b, c, elsewhere], [a, b, b], [a, b, elsewhere], [a, b, c, "nope"]):
        r = client.put(f"/api/albums/{album_id}/order", json={"ids": ids}, headers=alice.headers)
        assert r.status_code == 422, ids
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/album-order-mismatch")
    assert (
        client.put(
            f"/api/albums/{album_id}/order", json={"ids": []}, headers=alice.headers
        ).status_code
        == 422
    )
    detail = client.get(f"/api/albums/{album_id}", headers=alice.headers).json()
    assert detail["order"] == "newest_first"
    assert [x["id"] for x in detail["assets"]] == [c, b, a]


def test_only_the_owner_arranges_an_album(client: TestClient, alice: Account, bob: Account) -> None:
    a, b = _upload_dated(client, alice, 2)
    album_id = _album_with(client, alice, [a, b])
    r = client.put(f"/api/albums/{album_id}/order", json={"ids": [a, b]}, headers=bob.headers)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = client.put("/api/albums/no-such-album/order", json={"ids": [a, b]}, headers=alice.headers)
    assert r.status_code == 404
    assert _album_ids(client, alice, album_id) == [b, a]


def test_a_trashed_photo_keeps_its_place_in_the_album_order(
    client: TestClient, alice: Account
) -> None:
    a, b, c = _upload_dated(client, alice, 3)
    album_id = _album_with(client, alice, [a, b, c])
    client.put(f"/api/albums/{album_id}/order", json={"ids": [a, b, c]}, headers=alice.headers)
    client.post("/api/assets/trash", json={"ids": [b]}, headers=alice.headers)
    # The album shows a and c; its order names those two only.
    r = client.put(f"/api/albums/{album_id}/order", json={"ids": [c, a]}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert _album_ids(client, alice, album_id) == [c, a]
    client.post("/api/trash/restore", json={"ids": [b]}, headers=alice.headers)
    assert _album_ids(client, alice, album_id) == [c, b, a]


def test_trash_restore_and_empty(client: TestClient, alice: Account, container: Container) -> None:
    ids = _upload_dated(client, alice, 3)
    assert client.delete(f"/api/assets/{ids[0]}", headers=alice.headers).status_code == 204
    r = client.post("/api/assets/trash", json={"ids": [ids[1]]}, headers=alice.headers)
    assert r.json() == {"count": 1}
    timeline = client.get("/api/timeline", headers=alice.headers).json()["items"]
    assert [a["id"] for a in timeline] == [ids[2]]
    trash = client.get("/api/trash", headers=alice.headers).json()
    assert {a["id"] for a in trash} == {ids[0], ids[1]}
    usage = client.get("/api/usage", headers=alice.headers).json()
    assert usage["assets"] == 3 and usage["trash_bytes"] > 0
    r = client.post("/api/trash/restore", json={"ids": [ids[0]]}, headers=alice.headers)
    assert r.json() == {"count": 1}
    assert client.post("/api/trash/empty", headers=alice.headers).json() == {"count": 1}
    assert client.get(f"/api/assets/{ids[1]}", headers=alice.headers).status_code == 404
    assert not any(ids[1] in key for key in container.blobs.keys())
    usage = client.get("/api/usage", headers=alice.headers).json()
    assert usage["assets"] == 2 and usage["trash_bytes"] == 0


def test_uploading_a_trashed_photo_restores_it(client: TestClient, alice: Account) -> None:
    data = jpeg_bytes()
    asset_id = upload(client, alice, data).json()["asset"]["id"]
    client.delete(f"/api/assets/{asset_id}", headers=alice.headers)
    r = upload(client, alice, data)
    assert r.json()["duplicate"] is True and r.json()["asset"]["trashed_at"] is None
    assert client.get("/api/trash", headers=alice.headers).json() == []


def test_trash_is_purged_after_thirty_days_by_the_scheduled_job(
    client: TestClient, alice: Account, container: Container, clock: ManualClock
) -> None:
    ids = _upload_dated(client, alice, 2)
    client.delete(f"/api/assets/{ids[0]}", headers=alice.headers)
    clock.advance(timedelta(days=29))
    container.media.purge_expired_trash()
    assert len(client.get("/api/trash", headers=alice.headers).json()) == 1
    clock.advance(timedelta(days=1, seconds=1))
    container.media.purge_expired_trash()
    token = client.post(
        "/api/auth/login", json={"email": alice.email, "password": alice.password}
    ).json()["token"]  # the 30-day session expired meanwhile
    alice.headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/trash", headers=alice.headers).json() == []
    assert client.get(f"/api/assets/{ids[1]}", headers=alice.headers).status_code == 200
    assert not any(ids[0] in key for key in container.blobs.keys())
