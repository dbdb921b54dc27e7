"""Public links: what a holder with and without the password may read, what an expired,
revoked or never-made link reveals (nothing), metadata hiding in the JSON and in the served
bytes, downloads, the view counter, throttling, and the owner's ledger."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from keepsake.app import Container
from keepsake.clock import ManualClock
from keepsake.sharing.links import LINK_SESSION_TTL
from keepsake.storage.models import ShareLink, ShareLinkSession
from tests.helpers import Account, upload
from tests.sharing.conftest import album, ledger, photo, share

PASSWORD = "open sesame 42"


def gps_jpeg(seed: int) -> bytes:
    """A photo with a camera and a GPS position in its EXIF."""
    image = Image.effect_mandelbrot((320, 240), (-2 + seed * 0.01, -1.2, 1, 1.2), 40)
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS R6"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:17 10:30:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
    gps[3], gps[4] = "E", (13.0, 24.0, 36.0)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", exif=exif)
    return out.getvalue()


def gps_photo(client: TestClient, account: Account, seed: int) -> str:
    r = upload(client, account, gps_jpeg(seed), name="Home-address-IMG_1.jpg")
    assert r.status_code == 201, r.text
    asset = r.json()["asset"]
    assert asset["latitude"] is not None and asset["make"] == "Canon"
    asset_id: str = asset["id"]
    return asset_id


def make_link(client: TestClient, owner: Account, **body: Any) -> dict[str, Any]:
    r = client.post("/api/links", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def no_cookies(client: TestClient) -> None:
    client.cookies.clear()


def test_an_album_link_shows_previews_without_login_and_counts_views(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1, a2 = photo(client, alice, 1), photo(client, alice, 2)
    album_id = album(client, alice, [a1, a2], name="Summer")
    # A contributor's photo is in the album, but the contributor never agreed to publish it.
    share(client, alice, album_id, bob, "contributor")
    b1 = photo(client, bob, 3)
    client.post(f"/api/shared/albums/{album_id}/assets", json={"ids": [b1]}, headers=bob.headers)
    link = make_link(client, alice, album_id=album_id, label="for grandma")
    assert link["kind"] == "album" and link["asset_count"] == 2 and link["state"] == "active"
    assert link["hide_metadata"] is True and link["allow_download"] is False  # safe defaults
    token = link["token"]
    assert len(token) >= 43

    for _ in range(3):
        r = client.get(f"/api/s/{token}")
        assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == "Summer" and body["kind"] == "album"
    assert {a["id"] for a in body["assets"]} == {a1, a2}
    assert body["originals"] is False and body["metadata_hidden"] is True
    assert "for grandma" not in r.text  # the label is the owner's note
    assert r.headers["x-robots-tag"].startswith("noindex")

    for kind in ("thumbnail", "preview"):
        r = client.get(f"/api/s/{token}/assets/{a1}/{kind}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/")
    r = client.get(f"/api/s/{token}/assets/{a1}/original")
    assert r.status_code == 403
    # Bob's photo in the album is not served through alice's link.
    assert client.get(f"/api/s/{token}/assets/{b1}/thumbnail").status_code == 404

    info = client.get(f"/api/links/{link['id']}", headers=alice.headers).json()
    assert info["view_count"] == 3  # opens, not thumbnails
    assert info["last_viewed_at"] is not None
    assert "token" not in info


def test_hiding_metadata_strips_gps_and_camera_from_the_json_and_the_served_bytes(
    client: TestClient, alice: Account
) -> None:
    asset_id = gps_photo(client, alice, 1)
    token = make_link(client, alice, asset_ids=[asset_id])["token"]

    asset = client.get(f"/api/s/{token}").json()["assets"][0]
    for field in ("latitude", "longitude", "make", "model", "lens", "original_filename"):
        assert asset[field] is None, field
    assert "checksum" not in asset and "exif" not in asset
    for kind in ("preview", "thumbnail"):
        data = client.get(f"/api/s/{token}/assets/{asset_id}/{kind}").content
        image = Image.open(io.BytesIO(data))
        exif = image.getexif()
        assert len(exif) == 0 and not exif.get_ifd(0x8825), kind
        assert b"Exif\x00\x00" not in data and b"Canon" not in data and b"EOS R6" not in data
        assert "xmp" not in image.info and "exif" not in image.info


def test_a_link_that_shows_metadata_may_offer_the_original(
    client: TestClient, alice: Account
) -> None:
    asset_id = gps_photo(client, alice, 1)
    link = make_link(client, alice, asset_ids=[asset_id], hide_metadata=False, allow_download=True)
    token = link["token"]
    body = client.get(f"/api/s/{token}").json()
    assert body["originals"] is True
    assert body["assets"][0]["make"] == "Canon" and body["assets"][0]["latitude"] > 52
    original = client.get(f"/api/assets/{asset_id}/original", headers=alice.headers).content
    r = client.get(f"/api/s/{token}/assets/{asset_id}/original")
    assert r.status_code == 200 and r.content == original
    assert "attachment" in r.headers["content-disposition"]
    # Ranges work as for the owner.
    r = client.get(f"/api/s/{token}/assets/{asset_id}/original", headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == original[:10]


def test_a_link_cannot_both_hide_metadata_and_offer_originals(
    client: TestClient, alice: Account
) -> None:
    asset_id = photo(client, alice, 1)
    r = client.post(
        "/api/links", json={"asset_ids": [asset_id], "allow_download": True}, headers=alice.headers
    )
    assert r.status_code == 422 and "EXIF" in r.json()["detail"]
    link = make_link(client, alice, asset_ids=[asset_id], hide_metadata=False, allow_download=True)
    r = client.patch(
        f"/api/links/{link['id']}", json={"hide_metadata": True}, headers=alice.headers
    )
    assert r.status_code == 422
    r = client.patch(
        f"/api/links/{link['id']}",
        json={"hide_metadata": True, "allow_download": False},
        headers=alice.headers,
    )
    assert r.status_code == 200
    assert client.get(f"/api/s/{link['token']}/assets/{asset_id}/original").status_code == 403


def test_expired_revoked_and_never_made_links_are_the_same_404(
    client: TestClient, alice: Account, clock: ManualClock
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    expiring = make_link(
        client, alice, album_id=album_id, expires_at=(clock.now() + timedelta(days=7)).isoformat()
    )
    revoked = make_link(client, alice, album_id=album_id)
    deleted_album = make_link(client, alice, album_id=album(client, alice, [a1], name="gone"))
    protected = make_link(client, alice, album_id=album_id, password=PASSWORD)
    assert client.get(f"/api/s/{expiring['token']}").status_code == 200

    clock.advance(timedelta(days=7))
    assert client.delete(f"/api/links/{revoked['id']}", headers=alice.headers).status_code == 204
    assert client.delete(f"/api/links/{revoked['id']}", headers=alice.headers).status_code == 204
    client.delete(f"/api/albums/{deleted_album['album_id']}", headers=alice.headers)
    client.delete(f"/api/links/{protected['id']}", headers=alice.headers)

    never = "x" * 43
    tokens = [never, expiring["token"], revoked["token"], deleted_album["token"]]
    tokens.append(protected["token"])
    answers = []
    for token in tokens:
        for method, path, body in [
            ("GET", f"/api/s/{token}", None),
            ("GET", f"/api/s/{token}/assets/{a1}/thumbnail", None),
            ("GET", f"/api/s/{token}/assets/{a1}/original", None),
            ("POST", f"/api/s/{token}/unlock", {"password": PASSWORD}),
        ]:
            r = client.request(method, path, json=body)
            answers.append((r.status_code, r.content))
    assert {status for status, _ in answers} == {404}
    assert len({content for _, content in answers}) == 1  # not a byte differs

    states = {x["id"]: x["state"] for x in client.get("/api/links", headers=alice.headers).json()}
    assert states[expiring["id"]] == "expired" and states[revoked["id"]] == "revoked"
    assert deleted_album["id"] not in states
    # A revoked link stays revoked.
    r = client.patch(f"/api/links/{revoked['id']}", json={"label": "x"}, headers=alice.headers)
    assert r.status_code == 422


def test_a_password_link_needs_the_password_and_then_a_short_lived_session(
    client: TestClient, alice: Account, clock: ManualClock, container: Container
) -> None:
    a1 = photo(client, alice, 1)
    link = make_link(client, alice, asset_ids=[a1], password=PASSWORD)
    assert link["has_password"] is True
    token = link["token"]
    other = make_link(client, alice, asset_ids=[a1], password="another password")

    r = client.get(f"/api/s/{token}")
    assert r.status_code == 401 and r.json()["type"].endswith("/link-password-required")
    assert client.get(f"/api/s/{token}/assets/{a1}/thumbnail").status_code == 401
    r = client.post(f"/api/s/{token}/unlock", json={"password": "wrong password"})
    assert r.status_code == 401 and r.json()["type"].endswith("/wrong-link-password")
    assert "set-cookie" not in r.headers

    r = client.post(f"/api/s/{token}/unlock", json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    session = r.json()["session"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and f"Path=/api/s/{token}" in cookie
    # The cookie (as a browser sends it) and the header (as an API client does) both work.
    assert client.get(f"/api/s/{token}").status_code == 200
    assert client.get(f"/api/s/{token}/assets/{a1}/preview").status_code == 200
    no_cookies(client)
    assert client.get(f"/api/s/{token}").status_code == 401
    assert client.get(f"/api/s/{token}", headers={"X-Link-Session": session}).status_code == 200
    # Neither the token nor the session is a login.
    for secret in (token, session):
        r = client.get("/api/timeline", headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 401
    # A session is for its own link only.
    r = client.get(f"/api/s/{other['token']}", headers={"X-Link-Session": session})
    assert r.status_code == 401
    # Only hashes are stored.
    with container.db.read() as s:
        rows = list(s.scalars(select(ShareLinkSession)))
        stored_link = s.scalar(select(ShareLink).where(ShareLink.id == link["id"]))
    assert [row.token_hash for row in rows] == [hashlib.sha256(session.encode()).hexdigest()]
    assert stored_link is not None
    assert stored_link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored_link.password_hash is not None
    assert stored_link.password_hash.startswith("$argon2id$")

    # Sessions are short-lived.
    clock.advance(LINK_SESSION_TTL + timedelta(seconds=1))
    assert client.get(f"/api/s/{token}", headers={"X-Link-Session": session}).status_code == 401


def test_changing_or_removing_the_password_ends_every_link_session(
    client: TestClient, alice: Account
) -> None:
    a1 = photo(client, alice, 1)
    link = make_link(client, alice, asset_ids=[a1], password=PASSWORD)
    token, headers = link["token"], alice.headers
    session = client.post(f"/api/s/{token}/unlock", json={"password": PASSWORD}).json()["session"]
    no_cookies(client)
    with_session = {"X-Link-Session": session}
    assert client.get(f"/api/s/{token}", headers=with_session).status_code == 200

    r = client.patch(
        f"/api/links/{link['id']}", json={"password": "new password!"}, headers=headers
    )
    assert r.status_code == 200
    assert client.get(f"/api/s/{token}", headers=with_session).status_code == 401
    r = client.post(f"/api/s/{token}/unlock", json={"password": PASSWORD})
    assert r.status_code == 401
    r = client.patch(f"/api/links/{link['id']}", json={"password": None}, headers=headers)
    assert r.json()["has_password"] is False
    assert client.get(f"/api/s/{token}").status_code == 200


def test_password_guesses_are_throttled(
    client: TestClient, alice: Account, clock: ManualClock, container: Container
) -> None:
    link = make_link(client, alice, asset_ids=[photo(client, alice, 1)], password=PASSWORD)
    url = f"/api/s/{link['token']}/unlock"
    free = container.settings.login_free_attempts
    for _ in range(free):
        assert client.post(url, json={"password": "guess guess"}).status_code == 401
    r = client.post(url, json={"password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # Waiting is enough: never a lock-out.
    clock.advance(timedelta(seconds=int(r.headers["retry-after"])))
    assert client.post(url, json={"password": PASSWORD}).status_code == 200


def test_a_selection_link_serves_only_its_photos_and_never_trashed_ones(
    client: TestClient, alice: Account
) -> None:
    a1, a2, a3 = (photo(client, alice, i) for i in range(3))
    token = make_link(client, alice, asset_ids=[a1, a2])["token"]
    assert {a["id"] for a in client.get(f"/api/s/{token}").json()["assets"]} == {a1, a2}
    not_in_link = client.get(f"/api/s/{token}/assets/{a3}/thumbnail")
    never = client.get(f"/api/s/{'y' * 43}/assets/{a3}/thumbnail")
    assert not_in_link.status_code == 404 and not_in_link.content == never.content

    client.delete(f"/api/assets/{a2}", headers=alice.headers)  # to the trash
    assert [a["id"] for a in client.get(f"/api/s/{token}").json()["assets"]] == [a1]
    assert client.get(f"/api/s/{token}/assets/{a2}/preview").status_code == 404


def test_links_are_the_owners_alone_to_make_see_and_revoke(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    share(client, alice, album_id, bob, "contributor")
    link = make_link(client, alice, album_id=album_id)
    h = bob.headers
    # Not even a member of the album may link it, or link the owner's photos.
    assert client.post("/api/links", json={"album_id": album_id}, headers=h).status_code == 404
    assert client.post("/api/links", json={"asset_ids": [a1]}, headers=h).status_code == 404
    assert client.get("/api/links", headers=h).json() == []
    assert client.get(f"/api/links/{link['id']}", headers=h).status_code == 404
    r = client.patch(f"/api/links/{link['id']}", json={"hide_metadata": False}, headers=h)
    assert r.status_code == 404
    assert client.delete(f"/api/links/{link['id']}", headers=h).status_code == 404
    assert client.get(f"/api/s/{link['token']}").status_code == 200  # untouched
    # Bad requests.
    for body in [{}, {"album_id": album_id, "asset_ids": [a1]}, {"asset_ids": []}]:
        assert client.post("/api/links", json=body, headers=alice.headers).status_code == 422
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = client.post(
        "/api/links", json={"asset_ids": [a1], "expires_at": past}, headers=alice.headers
    )
    assert r.status_code == 422
    r = client.post(
        "/api/links", json={"asset_ids": [a1], "password": "short"}, headers=alice.headers
    )
    assert r.status_code == 422
    listed = client.get("/api/links", params={"album_id": album_id}, headers=alice.headers).json()
    assert [x["id"] for x in listed] == [link["id"]] and "token" not in listed[0]


def test_every_open_view_and_download_through_a_link_is_in_the_owners_ledger(
    client: TestClient, alice: Account
) -> None:
    a1 = photo(client, alice, 1)
    album_id = album(client, alice, [a1])
    link = make_link(client, alice, album_id=album_id, hide_metadata=False, allow_download=True)
    token = link["token"]
    client.get(f"/api/s/{token}")
    client.get(f"/api/s/{token}/assets/{a1}/thumbnail")
    client.get(f"/api/s/{token}/assets/{a1}/preview")
    client.get(f"/api/s/{token}/assets/{a1}/original")

    viewed = ledger(client, alice, "link.viewed")
    downloaded = ledger(client, alice, "link.downloaded")
    actor = f"link:{link['id']}"
    assert {e["actor"] for e in viewed + downloaded} == {actor}
    assert sorted(e["detail"]["what"] for e in viewed) == ["link", "preview", "thumbnail"]
    opened = next(e for e in viewed if e["detail"]["what"] == "link")
    assert opened["object_ids"] == [album_id, a1]
    assert [(e["detail"]["what"], e["object_ids"]) for e in downloaded] == [("original", [a1])]
    # Refused requests are not accesses.
    n = len(ledger(client, alice))
    client.get(f"/api/s/{'z' * 43}")
    client.get(f"/api/s/{token}/assets/{'0' * 36}/preview")
    assert len(ledger(client, alice)) == n


def test_a_link_never_serves_another_users_photo(
    client: TestClient, alice: Account, bob: Account
) -> None:
    b1 = photo(client, bob, 2)
    token = make_link(
        client, alice, asset_ids=[photo(client, alice, 1)], hide_metadata=False, allow_download=True
    )["token"]
    for kind in ("thumbnail", "preview", "original"):
        assert client.get(f"/api/s/{token}/assets/{b1}/{kind}").status_code == 404


def test_a_disabled_owners_links_stop_working(
    client: TestClient, alice: Account, bob: Account
) -> None:
    token = make_link(client, bob, asset_ids=[photo(client, bob, 1)])["token"]
    assert client.get(f"/api/s/{token}").status_code == 200
    r = client.post(f"/api/admin/users/{bob.id}/disable", headers=alice.headers)
    assert r.status_code == 200, r.text
    never = client.get(f"/api/s/{'q' * 43}")
    r = client.get(f"/api/s/{token}")
    assert r.status_code == 404 and r.content == never.content
    client.post(f"/api/admin/users/{bob.id}/enable", headers=alice.headers)
    assert client.get(f"/api/s/{token}").status_code == 200


def test_changing_a_links_options_changes_only_what_is_sent(
    client: TestClient, alice: Account, clock: ManualClock
) -> None:
    a1 = photo(client, alice, 1)
    link = make_link(client, alice, asset_ids=[a1], label="for Gran")
    url, h = f"/api/links/{link['id']}", alice.headers
    later = (clock.now() + timedelta(days=3)).isoformat()
    r = client.patch(url, json={"expires_at": later, "password": PASSWORD}, headers=h)
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["has_password"] is True and changed["expires_at"] is not None
    assert changed["label"] == "for Gran" and changed["hide_metadata"] is True
    r = client.patch(
        url, json={"hide_metadata": False, "allow_download": True, "label": "x"}, headers=h
    )
    assert r.status_code == 200
    assert (r.json()["allow_download"], r.json()["has_password"]) == (True, True)
    r = client.patch(url, json={"expires_at": None, "password": None}, headers=h)
    assert (r.json()["expires_at"], r.json()["has_password"]) == (None, False)
    token = link["token"]
    assert client.get(f"/api/s/{token}").json()["originals"] is True


def test_bad_link_changes_are_problems_and_change_nothing(
    client: TestClient, alice: Account, clock: ManualClock
) -> None:
    a1 = photo(client, alice, 1)
    link = make_link(client, alice, asset_ids=[a1], password=PASSWORD)
    url, h = f"/api/links/{link['id']}", alice.headers
    past = (clock.now() - timedelta(minutes=1)).isoformat()
    naive = (clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    for body in [
        {"password": "short"},
        {"password": "x" * 129},
        {"expires_at": past},
        {"expires_at": naive},
        {"expires_at": "next tuesday"},
        {"allow_download": True},  # while hiding metadata
        {"hide_metadata": "sometimes"},
        {"label": "x" * 201},
    ]:
        r = client.patch(url, json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["type"].endswith("/invalid-input") and problem["status"] == 422
    assert client.get(url, headers=h).json() == {**link_out(link), "has_password": True}
    # Someone else's link, or none at all: the same 404 problem.
    r = client.patch("/api/links/" + "0" * 26, json={"label": "x"}, headers=h)
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")


def link_out(created: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in created.items() if k not in ("token", "path")}
