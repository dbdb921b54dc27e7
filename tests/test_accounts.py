"""Accounts: first-run setup, login sessions, API keys with scopes, admin-only routes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from keepsake.app import Container
from tests.helpers import Account, new_account


def test_setup_creates_the_first_admin_then_closes(client: TestClient) -> None:
    assert client.get("/api/setup").json() == {"needs_setup": True}
    first = new_account(client, "admin@example.org")
    assert client.get("/api/users/me", headers=first.headers).json()["is_admin"] is True
    assert client.get("/api/setup").json() == {"needs_setup": False}
    again = client.post(
        "/api/setup", json={"email": "mallory@example.org", "password": "long enough pw"}
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith("/setup-done")


def test_login_rejects_a_wrong_password_with_a_problem(client: TestClient, alice: Account) -> None:
    r = client.post("/api/auth/login", json={"email": alice.email, "password": "wrong password"})
    assert r.status_code == 401
    assert r.json()["type"].endswith("/unauthorized")
    r = client.post("/api/auth/login", json={"email": "nobody@x.org", "password": "whatever1"})
    assert r.status_code == 401


def test_passwords_are_stored_as_argon2id_hashes(container: Container, alice: Account) -> None:
    user = container.auth.me(_principal(container, alice))
    with container.db.read() as s:
        from keepsake.storage.models import User

        stored = s.get(User, user.id)
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert alice.password not in stored.password_hash


def _principal(container: Container, account: Account):  # type: ignore[no-untyped-def]
    token = account.headers["Authorization"].split(" ", 1)[1]
    principal = container.auth.authenticate_session(token)
    assert principal is not None
    return principal


def test_short_password_is_refused(client: TestClient) -> None:
    r = client.post("/api/setup", json={"email": "a@example.org", "password": "short"})
    assert r.status_code == 422
    assert client.get("/api/setup").json() == {"needs_setup": True}


def test_requests_without_credentials_get_401(client: TestClient, alice: Account) -> None:
    for path in ("/api/users/me", "/api/timeline", "/api/albums", "/api/usage"):
        r = client.get(path)
        assert r.status_code == 401, path
    assert client.get("/api/timeline", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_logout_invalidates_the_session_on_the_server(client: TestClient, alice: Account) -> None:
    assert client.post("/api/auth/logout", headers=alice.headers).status_code == 204
    assert client.get("/api/users/me", headers=alice.headers).status_code == 401


def test_cookie_session_needs_the_csrf_token_for_changes(
    client: TestClient, alice: Account
) -> None:
    r = client.post("/api/auth/login", json={"email": alice.email, "password": alice.password})
    assert r.status_code == 200
    assert client.get("/api/users/me").status_code == 200  # the cookie alone reads
    assert client.post("/api/albums", json={"name": "x"}).status_code == 403
    csrf = client.cookies.get("keepsake_csrf")
    assert csrf
    r = client.post("/api/albums", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    client.cookies.clear()


def test_api_keys_are_scoped_listed_and_revocable(client: TestClient, alice: Account) -> None:
    r = client.post(
        "/api/api-keys", json={"name": "phone", "scopes": ["read"]}, headers=alice.headers
    )
    assert r.status_code == 201
    key = r.json()
    read_only = {"Authorization": f"Bearer {key['secret']}"}
    assert client.get("/api/timeline", headers=read_only).status_code == 200
    denied = client.post("/api/albums", json={"name": "x"}, headers=read_only)
    assert denied.status_code == 403
    listed = client.get("/api/api-keys", headers=alice.headers).json()
    assert [k["name"] for k in listed] == ["phone"]
    assert "secret" not in listed[0]
    assert client.delete(f"/api/api-keys/{key['id']}", headers=alice.headers).status_code == 204
    assert client.get("/api/timeline", headers=read_only).status_code == 401


def test_x_api_key_header_works_too(client: TestClient, alice: Account) -> None:
    secret = client.post("/api/api-keys", json={"name": "cli"}, headers=alice.headers).json()[
        "secret"
    ]
    assert client.get("/api/users/me", headers={"X-Api-Key": secret}).status_code == 200


def test_only_admins_manage_accounts(client: TestClient, alice: Account, bob: Account) -> None:
    assert client.get("/api/admin/users", headers=bob.headers).status_code == 403
    r = client.put(
        f"/api/admin/users/{bob.id}/quota", json={"quota_bytes": 1000}, headers=alice.headers
    )
    assert r.status_code == 200 and r.json()["quota_bytes"] == 1000
    emails = [u["email"] for u in client.get("/api/admin/users", headers=alice.headers).json()]
    assert emails == [alice.email, bob.email]


def test_duplicate_email_is_a_conflict(client: TestClient, alice: Account) -> None:
    r = client.post(
        "/api/admin/users",
        json={"email": "ALICE@example.org", "password": "another password"},
        headers=alice.headers,
    )
    assert r.status_code == 409
