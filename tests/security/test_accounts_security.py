"""Accounts and sessions to OWASP ASVS level 2: login throttling without lock-out, password
re-entry for sensitive changes, sessions listed and revocable, two-factor login with
recovery codes, account deletion and disabling, the audit log, cookies, CSRF and security
headers on every response, request size limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keepsake.app import Container
from keepsake.auth import totp
from keepsake.clock import ManualClock
from keepsake.consent.jobs import PURGE_ACCOUNTS_JOB
from tests.helpers import Account, jpeg_bytes, upload

# For what the database cannot change (headers, cookies, sizes): SQLite only, to save time.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

NEW_PASSWORD = "a new password that is sixty-four characters long, exactly so ok"
assert len(NEW_PASSWORD) == 64


def login(client: TestClient, email: str, password: str, **extra: str) -> Any:
    r = client.post("/api/auth/login", json={"email": email, "password": password, **extra})
    client.cookies.clear()
    return r


def bearer(r: Any) -> dict[str, str]:
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def events(client: TestClient, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    r = client.get("/api/admin/audit", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())


# --- throttling ------------------------------------------------------------------------


def test_failed_logins_back_off_exponentially_then_let_the_user_in(
    client: TestClient, alice: Account, clock: ManualClock
) -> None:
    for _ in range(5):
        assert login(client, alice.email, "wrong password").status_code == 401
    blocked = login(client, alice.email, alice.password)  # even the right password waits
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "1"
    assert blocked.headers["content-type"] == "application/problem+json"
    assert blocked.json()["type"].endswith("/rate-limited")
    clock.advance(timedelta(seconds=1))
    assert login(client, alice.email, "wrong again").status_code == 401
    assert login(client, alice.email, alice.password).headers["retry-after"] == "2"
    clock.advance(timedelta(seconds=2))
    assert login(client, alice.email, alice.password).status_code == 200
    # Success clears the account's count: the next mistake is free again.
    assert login(client, alice.email, "wrong password").status_code == 401
    assert login(client, alice.email, alice.password).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"login_max_delay_seconds": 8.0}])
def test_the_wait_is_capped_so_nobody_is_locked_out_for_good(
    client: TestClient, alice: Account, clock: ManualClock, container: Container
) -> None:
    for _ in range(12):
        r = login(client, alice.email, "wrong password")
        if r.status_code == 429:
            wait = int(r.headers["retry-after"])
            assert wait <= 8
            clock.advance(timedelta(seconds=wait))
            r = login(client, alice.email, "wrong password")
        assert r.status_code == 401
    r = login(client, alice.email, alice.password)
    assert r.status_code == 429 and r.headers["retry-after"] == "8"
    clock.advance(timedelta(seconds=8))
    assert login(client, alice.email, alice.password).status_code == 200


def test_one_address_trying_many_accounts_is_throttled_too(
    client: TestClient, alice: Account, bob: Account
) -> None:
    for i in range(20):  # never the same account twice: only the address adds up
        assert login(client, f"guess{i}@example.org", "password1").status_code == 401
    r = login(client, bob.email, bob.password)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1


def test_throttling_is_recorded_in_the_audit_log(client: TestClient, alice: Account) -> None:
    for _ in range(6):
        login(client, alice.email, "wrong password")
    names = [e["event"] for e in events(client, alice.headers, user_id=alice.id)]
    assert names.count("login.failed") == 5
    assert "login.throttled" in [e["event"] for e in events(client, alice.headers)]


# --- passwords, email, sessions ------------------------------------------------------


def test_password_change_needs_the_current_one_and_ends_other_sessions(
    client: TestClient, alice: Account
) -> None:
    other = bearer(login(client, alice.email, alice.password))
    body = {"current_password": "not it at all", "new_password": NEW_PASSWORD}
    r = client.post("/api/users/me/password", json=body, headers=alice.headers)
    assert r.status_code == 403 and r.json()["type"].endswith("/wrong-password")
    too_long = {"current_password": alice.password, "new_password": "x" * 129}
    assert (
        client.post("/api/users/me/password", json=too_long, headers=alice.headers).status_code
        == 422
    )
    too_short = {"current_password": alice.password, "new_password": "x" * 7}
    assert (
        client.post("/api/users/me/password", json=too_short, headers=alice.headers).status_code
        == 422
    )

    body["current_password"] = alice.password
    assert (
        client.post("/api/users/me/password", json=body, headers=alice.headers).status_code == 204
    )
    assert client.get("/api/users/me", headers=alice.headers).status_code == 200  # this one stays
    assert client.get("/api/users/me", headers=other).status_code == 401
    assert login(client, alice.email, alice.password).status_code == 401
    assert login(client, alice.email, NEW_PASSWORD).status_code == 200
    change = next(e for e in events(client, alice.headers) if e["event"] == "password.changed")
    assert change["detail"] == {"sessions_ended": 1}
    assert NEW_PASSWORD not in str(events(client, alice.headers))


def test_email_change_needs_the_password(client: TestClient, alice: Account, bob: Account) -> None:
    r = client.put(
        "/api/users/me/email",
        json={"password": "wrong password", "email": "new@example.org"},
        headers=alice.headers,
    )
    assert r.status_code == 403
    taken = client.put(
        "/api/users/me/email",
        json={"password": alice.password, "email": bob.email},
        headers=alice.headers,
    )
    assert taken.status_code == 409
    r = client.put(
        "/api/users/me/email",
        json={"password": alice.password, "email": "New@Example.org"},
        headers=alice.headers,
    )
    assert r.status_code == 200 and r.json()["email"] == "new@example.org"
    assert login(client, "new@example.org", alice.password).status_code == 200


def test_sessions_are_listed_and_revocable_by_their_owner_only(
    client: TestClient, alice: Account, bob: Account
) -> None:
    second = bearer(login(client, alice.email, alice.password))
    listed = client.get("/api/sessions", headers=alice.headers).json()
    assert len(listed) == 2
    assert sum(s["current"] for s in listed) == 1
    other = next(s for s in listed if not s["current"])
    bobs = client.get("/api/sessions", headers=bob.headers).json()
    assert {s["id"] for s in bobs}.isdisjoint({s["id"] for s in listed})
    r = client.delete(f"/api/sessions/{bobs[0]['id']}", headers=alice.headers)
    assert r.status_code == 404
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200
    assert client.delete(f"/api/sessions/{other['id']}", headers=alice.headers).status_code == 204
    assert client.get("/api/users/me", headers=second).status_code == 401
    third = bearer(login(client, alice.email, alice.password))
    fourth = bearer(login(client, alice.email, alice.password))
    assert client.delete("/api/sessions", headers=alice.headers).status_code == 204
    assert client.get("/api/users/me", headers=third).status_code == 401
    assert client.get("/api/users/me", headers=fourth).status_code == 401
    assert [s["current"] for s in client.get("/api/sessions", headers=alice.headers).json()] == [
        True
    ]
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200


@sqlite_only
def test_each_login_makes_a_new_long_random_token(client: TestClient, alice: Account) -> None:
    tokens = {login(client, alice.email, alice.password).json()["token"] for _ in range(3)}
    assert len(tokens) == 3
    assert all(len(t) >= 43 for t in tokens)  # 256 bits in URL-safe base64


@sqlite_only
def test_passwords_are_hashed_with_argon2id_at_the_asvs_minimum(
    container: Container, alice: Account
) -> None:
    from keepsake.storage.models import User

    with container.db.read() as s:
        user = s.get(User, alice.id)
        assert user is not None
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


# --- two-factor ------------------------------------------------------------------------


def _code(secret: str, clock: ManualClock, offset_steps: int = 0) -> str:
    return totp.code_at(secret, totp.current_step(clock.now()) + offset_steps)


def test_two_factor_login_with_codes_and_recovery_codes(
    client: TestClient, alice: Account, clock: ManualClock
) -> None:
    other = bearer(login(client, alice.email, alice.password))
    r = client.post(
        "/api/users/me/two-factor/setup", json={"password": "wrong"}, headers=alice.headers
    )
    assert r.status_code == 403
    setup = client.post(
        "/api/users/me/two-factor/setup", json={"password": alice.password}, headers=alice.headers
    ).json()
    assert setup["uri"].startswith("otpauth://totp/")
    secret = setup["secret"]
    # Not in force until confirmed with a code.
    assert login(client, alice.email, alice.password).status_code == 200
    wrong = client.post(
        "/api/users/me/two-factor/enable", json={"code": "000000"}, headers=alice.headers
    )
    assert wrong.status_code == 422
    r = client.post(
        "/api/users/me/two-factor/enable",
        json={"code": _code(secret, clock)},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    recovery = r.json()["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert client.get("/api/users/me", headers=other).status_code == 401  # others ended
    assert client.get("/api/users/me", headers=alice.headers).json()["totp_enabled_at"]

    needs = login(client, alice.email, alice.password)
    assert needs.status_code == 401
    assert needs.json()["type"].endswith("/second-factor-required")
    assert login(client, alice.email, alice.password, code="123456").status_code == 401
    clock.advance(timedelta(seconds=30))
    code = _code(secret, clock)
    assert login(client, alice.email, alice.password, code=code).status_code == 200
    assert login(client, alice.email, alice.password, code=code).status_code == 401  # replay
    # A code from the previous period is still fine (clock drift), once.
    clock.advance(timedelta(seconds=30))
    assert login(client, alice.email, alice.password, code=_code(secret, clock)).status_code == 200
    clock.advance(timedelta(seconds=30))
    assert (
        login(client, alice.email, alice.password, code=_code(secret, clock, -1)).status_code == 401
    )  # that step was used above

    assert login(client, alice.email, alice.password, code=recovery[0]).status_code == 200
    assert login(client, alice.email, alice.password, code=recovery[0]).status_code == 401
    assert login(client, alice.email, "wrong", code=recovery[1]).status_code == 401
    lower = recovery[1].lower().replace("-", " ")
    assert login(client, alice.email, alice.password, code=lower).status_code == 200

    assert (
        client.post(
            "/api/users/me/two-factor/disable", json={"password": "nope"}, headers=alice.headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/users/me/two-factor/disable",
            json={"password": alice.password},
            headers=alice.headers,
        ).status_code
        == 204
    )
    assert login(client, alice.email, alice.password).status_code == 200
    names = [e["event"] for e in events(client, alice.headers, user_id=alice.id)]
    assert {"totp.enabled", "totp.disabled", "recovery_code.used"} <= set(names)


# --- deleting and disabling accounts -------------------------------------------------


def test_deleting_my_account_needs_my_password_and_purges_it_after_the_grace_period(
    client: TestClient, alice: Account, bob: Account, container: Container, clock: ManualClock
) -> None:
    upload(client, bob, jpeg_bytes())
    r = client.post("/api/users/me/delete", json={"password": "wrong"}, headers=bob.headers)
    assert r.status_code == 403
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200
    r = client.post("/api/users/me/delete", json={"password": bob.password}, headers=bob.headers)
    assert r.status_code == 202, r.text
    assert r.json()["scheduled"] and not r.json()["by_admin"]
    assert client.get("/api/users/me", headers=bob.headers).status_code == 401, "sessions end"
    assert list(container.blobs.keys(f"originals/{bob.id}/")), "kept during the grace period"

    clock.advance(timedelta(days=container.settings.account_deletion_grace_days, hours=1))
    container.jobs.enqueue(PURGE_ACCOUNTS_JOB)
    assert login(client, bob.email, bob.password).status_code == 401
    assert list(container.blobs.keys(f"originals/{bob.id}/")) == []
    # (The account's id in the audit trail may be pseudonymised once it is gone.)
    deleted = [e for e in events(client, alice.headers) if e["event"] == "user.deleted"]
    assert len(deleted) == 1


def test_an_administrator_deletes_an_account_at_once_with_its_unfinished_uploads(
    client: TestClient, alice: Account, bob: Account, container: Container
) -> None:
    upload(client, bob, jpeg_bytes())
    unfinished = jpeg_bytes((400, 300), seed=71)
    tus = {**bob.headers, "Tus-Resumable": "1.0.0"}
    created = client.post("/api/uploads", headers={**tus, "Upload-Length": str(len(unfinished))})
    assert created.status_code == 201, created.text
    upload_id = created.headers["location"].rsplit("/", 1)[-1]
    r = client.patch(
        created.headers["location"],
        content=unfinished[: len(unfinished) // 2],
        headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert r.status_code == 204, r.text
    part = container.settings.data_dir / "uploads" / f"{upload_id}.part"
    assert part.stat().st_size == len(unfinished) // 2

    r = client.delete(f"/api/admin/users/{bob.id}", headers=alice.headers)
    assert r.status_code == 204, r.text
    assert login(client, bob.email, bob.password).status_code == 401
    assert bob.id not in {
        u["id"] for u in client.get("/api/admin/users", headers=alice.headers).json()
    }
    assert list(container.blobs.keys(f"originals/{bob.id}/")) == []
    assert not part.exists(), "the partial upload went with the account"
    for folder in ("uploads", "staging"):
        for path in (container.settings.data_dir / folder).rglob("*"):
            assert unfinished[100:148] not in path.read_bytes(), path
    ledger = client.get("/api/ledger", headers=alice.headers).json()["items"]
    assert [e["action"] for e in ledger[:2]] == [
        "admin.account_purged",
        "admin.account_deletion_scheduled",
    ]
    assert bob.id not in str(ledger), "the admin's ledger names the deletion, not the account"
    assert client.delete(f"/api/admin/users/{bob.id}", headers=alice.headers).status_code == 404


def test_the_last_administrator_cannot_be_deleted(client: TestClient, alice: Account) -> None:
    r = client.delete(f"/api/admin/users/{alice.id}", headers=alice.headers)
    assert r.status_code == 409


def test_disabling_an_account_ends_its_sessions_at_once(
    client: TestClient, alice: Account, bob: Account
) -> None:
    api_key = client.post("/api/api-keys", json={"name": "k"}, headers=bob.headers).json()
    assert (
        client.post(f"/api/admin/users/{alice.id}/disable", headers=bob.headers).status_code == 403
    )
    r = client.post(f"/api/admin/users/{bob.id}/disable", headers=alice.headers)
    assert r.status_code == 200 and r.json()["disabled_at"]
    assert client.get("/api/users/me", headers=bob.headers).status_code == 401
    key_headers = {"Authorization": f"Bearer {api_key['secret']}"}
    assert client.get("/api/users/me", headers=key_headers).status_code == 401
    assert login(client, bob.email, bob.password).status_code == 401
    assert (
        client.post(f"/api/admin/users/{bob.id}/enable", headers=alice.headers).status_code == 200
    )
    assert login(client, bob.email, bob.password).status_code == 200
    admin_events = [
        (e["event"], e["actor_id"]) for e in events(client, alice.headers, user_id=bob.id)
    ]
    assert ("user.disabled", alice.id) in admin_events
    assert ("user.enabled", alice.id) in admin_events


# --- the audit log ---------------------------------------------------------------------


def test_users_read_their_own_security_events_and_only_admins_read_all(
    client: TestClient, alice: Account, bob: Account
) -> None:
    login(client, bob.email, "wrong password")
    key = client.post("/api/api-keys", json={"name": "phone"}, headers=bob.headers).json()
    client.delete(f"/api/api-keys/{key['id']}", headers=bob.headers)
    assert client.get("/api/admin/audit", headers=bob.headers).status_code == 403
    mine = client.get("/api/users/me/audit", headers=bob.headers).json()
    assert {e["user_id"] for e in mine} == {bob.id}
    names = [e["event"] for e in mine]
    assert {"login.failed", "login.succeeded", "api_key.created", "api_key.revoked"} <= set(names)
    assert "user.created" in names  # by the admin, who is named as the actor
    created = next(e for e in mine if e["event"] == "user.created")
    assert created["actor_id"] == alice.id
    everything = events(client, alice.headers)
    assert {e["user_id"] for e in everything} >= {alice.id, bob.id}
    assert bob.password not in str(everything) and bob.email not in str(everything)
    assert key["secret"] not in str(everything)


# --- cookies, CSRF, headers, sizes -----------------------------------------------------


def _set_cookies(r: Any) -> dict[str, str]:
    cookies = {}
    for header in r.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        cookies[name] = header.lower()
    return cookies


@sqlite_only
def test_session_cookie_is_httponly_samesite_and_not_secure_over_http(
    client: TestClient, alice: Account
) -> None:
    cookies = _set_cookies(login(client, alice.email, alice.password))
    session = cookies["keepsake_session"]
    assert "httponly" in session and "samesite=lax" in session and "secure" not in session
    assert "samesite=strict" in cookies["keepsake_csrf"]


@sqlite_only
@pytest.mark.parametrize("settings_overrides", [{"cookie_secure": True}])
def test_behind_https_cookies_are_secure_and_hsts_is_sent(
    client: TestClient, alice: Account
) -> None:
    r = login(client, alice.email, alice.password)
    assert all("; secure" in c for c in _set_cookies(r).values())
    assert r.headers["strict-transport-security"].startswith("max-age=")


@sqlite_only
def test_state_changes_with_a_session_cookie_need_the_csrf_token(
    client: TestClient, alice: Account
) -> None:
    client.post("/api/auth/login", json={"email": alice.email, "password": alice.password})
    try:
        body = {"current_password": alice.password, "new_password": NEW_PASSWORD}
        assert client.post("/api/users/me/password", json=body).status_code == 403
        assert client.delete("/api/sessions/whatever").status_code == 403
        assert (
            client.post("/api/users/me/delete", json={"password": alice.password}).status_code
            == 403
        )
        assert client.get("/api/sessions").status_code == 200  # reads need no token
        csrf = client.cookies.get("keepsake_csrf")
        assert csrf
        r = client.post("/api/users/me/password", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 204
    finally:
        client.cookies.clear()


@pytest.fixture
def asset_id(client: TestClient, alice: Account) -> Iterator[str]:
    yield upload(client, alice, jpeg_bytes()).json()["asset"]["id"]


@sqlite_only
def test_every_response_carries_the_security_headers(
    client: TestClient, alice: Account, asset_id: str
) -> None:
    responses = [
        client.get("/api/users/me", headers=alice.headers),
        client.get("/api/users/me"),  # 401
        client.get("/api/no-such-route"),  # 404
        client.post(
            "/api/albums",
            content=b"{",
            headers={**alice.headers, "Content-Type": "application/json"},
        ),
        client.get(f"/api/assets/{asset_id}/original", headers=alice.headers),
        client.get("/api/openapi.json"),
    ]
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] in ("no-referrer", "same-origin")
    assert responses[0].headers["cache-control"] == "no-store"
    # A route's own caching is kept: originals are private and immutable.
    assert responses[4].headers["cache-control"].startswith("private")
    assert "attachment" in responses[4].headers["content-disposition"]
    docs = client.get("/api/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


@sqlite_only
@pytest.mark.parametrize("settings_overrides", [{"request_max_bytes": 4096}])
def test_oversized_request_bodies_are_refused_with_413(
    client: TestClient, alice: Account, container: Container
) -> None:
    big = {"name": "x" * 10_000}
    r = client.post("/api/albums", json=big, headers=alice.headers)
    assert r.status_code == 413
    assert r.json()["type"].endswith("/request-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"checksums": ["'
        for _ in range(100):
            yield b"a" * 100
        yield b'"]}'

    r = client.post(
        "/api/assets/exists",
        content=chunks(),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["type"].endswith("/request-too-large")
    assert client.get("/api/albums", headers=alice.headers).json() == []
    # Uploads may still be as large as an original.
    assert upload(client, alice, jpeg_bytes()).status_code == 201


@sqlite_only
def test_common_passwords_and_the_account_s_own_name_are_refused(
    client: TestClient, alice: Account
) -> None:
    for weak in ("password123", "Keepsake2024!", "bob.smith", "BOB.SMITH99", "12345678"):
        r = client.post(
            "/api/admin/users",
            json={"email": "bob.smith@example.org", "password": weak},
            headers=alice.headers,
        )
        assert r.status_code == 422, weak
    body = {"current_password": alice.password, "new_password": "alice@example.org"}
    assert (
        client.post("/api/users/me/password", json=body, headers=alice.headers).status_code == 422
    )
    # No composition rules: a long passphrase of lower-case words is fine.
    r = client.post(
        "/api/admin/users",
        json={"email": "bob.smith@example.org", "password": "the cat sat on a warm mat"},
        headers=alice.headers,
    )
    assert r.status_code == 201


def test_the_operator_deletes_an_account_from_the_command_line(
    client: TestClient, alice: Account, bob: Account, container: Container
) -> None:
    from typer.testing import CliRunner

    from keepsake.cli.main import app

    upload(client, bob, jpeg_bytes())
    env = {
        "KEEPSAKE_DATA_DIR": str(container.settings.data_dir),
        "KEEPSAKE_DATABASE_URL": container.settings.resolved_database_url.replace(
            "postgresql+psycopg://", "postgresql://"
        ),
    }
    result = CliRunner().invoke(app, ["user", "delete", bob.email, "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert "disabled and will be deleted after" in result.output
    assert client.get("/api/users/me", headers=bob.headers).status_code == 401
    assert login(client, bob.email, bob.password).status_code == 401, "disabled meanwhile"
    assert list(container.blobs.keys(f"originals/{bob.id}/")), "purged after the grace period"

    result = CliRunner().invoke(app, ["user", "cancel-deletion", bob.email], env=env)
    assert result.exit_code == 0, result.output
    assert login(client, bob.email, bob.password).status_code == 200

    result = CliRunner().invoke(app, ["user", "delete", bob.email, "--now", "--yes"], env=env)
    assert result.exit_code == 0 and "deleted" in result.output, result.output
    assert login(client, bob.email, bob.password).status_code == 401
    assert list(container.blobs.keys(f"originals/{bob.id}/")) == []
    again = CliRunner().invoke(app, ["user", "delete", bob.email, "--yes"], env=env)
    assert again.exit_code == 1 and "No account" in again.output
