"""The pages over HTTP without a browser: what they require, where they send a visitor,
that they carry no inline script or style (the Content-Security-Policy forbids both), that
errors are pages in words, and that static files are cached for good."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from keepsake.app import Container
from keepsake.web.routes import safe_next
from tests.helpers import Account, jpeg_bytes, upload

HTML = {"accept": "text/html"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+=", re.I)


def _login(client: TestClient, account: Account) -> None:
    r = client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert r.status_code == 200


def test_a_new_server_sends_every_page_to_setup(client: TestClient) -> None:
    for path in ("/", "/albums", "/login"):
        r = client.get(path, headers=HTML, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/setup")
    assert client.get("/setup", headers=HTML).status_code == 200


def test_pages_need_a_login_and_remember_where_the_visitor_was_going(
    client: TestClient, alice: Account
) -> None:
    r = client.get("/albums?x=1", headers=HTML, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Falbums%3Fx%3D1"
    assert client.get("/setup", follow_redirects=False).headers["location"] == "/login"
    # The API keeps answering with problem JSON, never a redirect.
    r = client.get("/api/albums", headers=HTML)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/"),
        ("/albums", "/albums"),
        ("/photos/1?in=trash", "/photos/1?in=trash"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
    ],
)
def test_after_login_only_paths_on_this_site(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_every_page_is_free_of_inline_script_and_style(
    client: TestClient, alice: Account, container: Container
) -> None:
    asset = upload(client, alice, jpeg_bytes(seed=1)).json()["asset"]
    album = client.post("/api/albums", json={"name": "A"}, headers=alice.headers).json()
    _login(client, alice)
    paths = [
        "/",
        "/favorites",
        f"/photos/{asset['id']}",
        f"/photos/{asset['id']}?in=album:{album['id']}",
        "/upload",
        "/albums",
        f"/albums/{album['id']}",
        "/trash",
        "/people",
        "/settings",
        "/admin",
        "/no-such-page",
    ]
    for path in paths:
        r = client.get(path, headers=HTML)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        body = r.text
        assert not INLINE_SCRIPT.search(body), path
        assert not INLINE_STYLE.search(body), path
        assert not INLINE_HANDLER.search(body), path
        assert '<html lang="en">' in body and "<title>" in body
        assert r.headers["cache-control"] == "private, no-cache"
    client.cookies.clear()
    for path in ("/login", "/setup"):
        body = client.get(path, headers=HTML, follow_redirects=True).text
        assert not INLINE_SCRIPT.search(body) and not INLINE_STYLE.search(body)


def test_the_timeline_page_carries_its_months_for_the_script(
    client: TestClient, alice: Account
) -> None:
    upload(client, alice, jpeg_bytes(seed=1, taken="2024:05:17 10:30:00"))
    upload(client, alice, jpeg_bytes(seed=2, taken="2023:01:02 10:30:00"))
    _login(client, alice)
    body = client.get("/", headers=HTML).text
    assert 'data-months="2024-05:1,2023-01:1"' in body
    assert "2 photos" in body


def test_errors_are_pages_in_words(client: TestClient, alice: Account, bob: Account) -> None:
    asset = upload(client, alice, jpeg_bytes(seed=1)).json()["asset"]
    _login(client, bob)
    r = client.get(f"/photos/{asset['id']}", headers=HTML)  # another user's photo
    assert r.status_code == 404 and "No such asset." in r.text
    r = client.get("/admin", headers=HTML)
    assert r.status_code == 403 and "Administrators only." in r.text
    r = client.get("/albums/nope", headers=HTML)
    assert r.status_code == 404 and "No such album." in r.text


def test_static_files_are_immutable_when_fingerprinted(client: TestClient) -> None:
    body = client.get("/setup", headers=HTML).text
    css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', body)
    assert css is not None
    r = client.get(css.group(1))
    assert (
        r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"
    )
    assert client.get("/static/app.css").headers["cache-control"] == "no-cache"
    assert client.get("/static/nope.js").status_code == 404


def test_viewer_describes_the_photo(client: TestClient, alice: Account) -> None:
    data = jpeg_bytes(seed=3, taken="2024:05:17 10:30:00", offset="+02:00")
    asset = upload(client, alice, data, name="harbour.jpg").json()["asset"]
    _login(client, alice)
    body = client.get(f"/photos/{asset['id']}", headers=HTML).text
    assert "Friday 17 May 2024, 10:30 (UTC+02:00)" in body
    assert "Canon EOS R6" in body
    assert "harbour.jpg" in body
    assert f'href="/api/assets/{asset["id"]}/original"' in body
