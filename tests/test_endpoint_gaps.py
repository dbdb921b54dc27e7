"""Endpoints and failure paths that no other test reached: every route refuses a caller
without credentials with a 401 problem, every route with a JSON body refuses a body of the
wrong shape with a 422 problem, and the few operations that had no test at all."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keepsake.app import Container
from keepsake.auth import totp
from keepsake.clock import ManualClock
from tests.helpers import Account, jpeg_bytes, upload

PROBLEM = "application/problem+json"
MISSING = "00000000000000000000000000"

# Operations anyone may call: the first-run setup, logging in, a public link (its token is
# the credential), the privacy notice, and the tus discovery request.
PUBLIC = {
    ("GET", "/api/setup"),
    ("POST", "/api/setup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/privacy"),
    ("OPTIONS", "/api/uploads"),
    ("GET", "/api/s/{token}"),
    ("POST", "/api/s/{token}/unlock"),
    ("GET", "/api/s/{token}/assets/{asset_id}/thumbnail"),
    ("GET", "/api/s/{token}/assets/{asset_id}/preview"),
    ("GET", "/api/s/{token}/assets/{asset_id}/original"),
}


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/api/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete", "head", "options")
    ]


def _fill(path: str) -> str:
    """Every path parameter with an id that names nothing; `purpose` with a real purpose."""
    path = path.replace("{purpose}", "face_recognition")
    return re.sub(r"\{[^}]+\}", MISSING, path)


def _assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["type"] and body["title"]
    return body


# --- every route ----------------------------------------------------------------------


def test_every_route_that_is_not_public_refuses_a_caller_without_credentials(
    client: TestClient, alice: Account
) -> None:
    operations = _operations(client)
    assert len(operations) > 100
    checked = 0
    for method, path, _ in operations:
        if (method, path) in PUBLIC:
            continue
        client.cookies.clear()
        tus = {"Tus-Resumable": "1.0.0"}
        if path.startswith("/api/uploads/"):
            tus |= {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
        r = client.request(method, _fill(path), headers=tus)
        if method == "HEAD":
            assert r.status_code == 401, f"HEAD {path}: {r.status_code}"
        else:
            _assert_problem(r, 401)
        bad = client.request(
            method,
            _fill(path),
            headers={**tus, "Authorization": "Bearer ks_not_a_real_token"},
        )
        assert bad.status_code == 401, f"{method} {path} with a made-up token: {bad.status_code}"
        checked += 1
    assert checked > 100


def test_every_route_with_a_json_body_refuses_one_of_the_wrong_shape(
    client: TestClient, alice: Account
) -> None:
    checked = 0
    for method, path, op in _operations(client):
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" not in content or (method, path) in PUBLIC:
            continue
        url = _fill(path)
        # A list where an object belongs, and a string where an object belongs.
        for body in ("[1, 2]", '"text"'):
            r = client.request(
                method,
                url,
                content=body,
                headers={**alice.headers, "Content-Type": "application/json"},
            )
            problem = _assert_problem(r, 422)
            assert "errors" in problem or "detail" in problem, problem
        # Malformed JSON is refused the same way, not with a server error.
        r = client.request(
            method,
            url,
            content="{not json",
            headers={**alice.headers, "Content-Type": "application/json"},
        )
        _assert_problem(r, 422)
        checked += 1
    assert checked > 30


def test_the_public_routes_answer_without_credentials(client: TestClient, alice: Account) -> None:
    client.cookies.clear()
    assert client.get("/api/setup").json() == {"needs_setup": False}
    _assert_problem(client.post("/api/setup", json={"email": "x@example.org"}), 422)
    assert client.get("/api/privacy").status_code == 200
    _assert_problem(client.get(f"/api/s/{MISSING}"), 404)
    _assert_problem(client.post("/api/auth/login", json={"email": alice.email}), 422)
    _assert_problem(
        client.post("/api/auth/login", json={"email": alice.email, "password": "wrong pw 1"}),
        401,
    )


# --- POST /api/users/me/two-factor/recovery-codes --------------------------------------


def _login(client: TestClient, account: Account, **extra: str) -> int:
    r = client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password, **extra}
    )
    client.cookies.clear()
    return r.status_code


def _enable_two_factor(client: TestClient, account: Account, clock: ManualClock) -> list[str]:
    secret = client.post(
        "/api/users/me/two-factor/setup",
        json={"password": account.password},
        headers=account.headers,
    ).json()["secret"]
    code = totp.code_at(secret, totp.current_step(clock.now()))
    r = client.post("/api/users/me/two-factor/enable", json={"code": code}, headers=account.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["recovery_codes"])


def test_renewing_recovery_codes_needs_the_password_and_voids_the_old_ones(
    client: TestClient, alice: Account, clock: ManualClock
) -> None:
    url = "/api/users/me/two-factor/recovery-codes"
    old = _enable_two_factor(client, alice, clock)

    _assert_problem(client.post(url, json={}, headers=alice.headers), 422)
    _assert_problem(client.post(url, json={"password": 12}, headers=alice.headers), 422)
    wrong = _assert_problem(
        client.post(url, json={"password": "not it"}, headers=alice.headers), 403
    )
    assert wrong["type"].endswith("/wrong-password")
    _assert_problem(client.post(url, json={"password": alice.password}), 401)
    # Refused attempts left the old codes in force.
    assert _login(client, alice, code=old[0]) == 200

    r = client.post(url, json={"password": alice.password}, headers=alice.headers)
    assert r.status_code == 200, r.text
    new = r.json()["recovery_codes"]
    assert len(new) == 10 and len(set(new)) == 10 and not set(new) & set(old)
    assert _login(client, alice, code=old[1]) == 401, "the old codes stop working"
    assert _login(client, alice, code=new[0]) == 200
    assert _login(client, alice, code=new[0]) == 401, "each code works once"


def test_renewing_recovery_codes_without_two_factor_is_refused(
    client: TestClient, alice: Account
) -> None:
    r = client.post(
        "/api/users/me/two-factor/recovery-codes",
        json={"password": alice.password},
        headers=alice.headers,
    )
    _assert_problem(r, 409)


# --- DELETE /api/account/deletion -------------------------------------------------------


def test_cancelling_a_deletion_that_was_never_asked_for_changes_nothing(
    client: TestClient, alice: Account, bob: Account
) -> None:
    r = client.delete("/api/account/deletion", headers=bob.headers)
    assert r.status_code == 204, r.text
    assert client.get("/api/account/deletion", headers=bob.headers).json()["scheduled"] is False
    actions = [e["action"] for e in client.get("/api/ledger", headers=bob.headers).json()["items"]]
    assert "account.deletion_cancelled" not in actions
    _assert_problem(client.delete("/api/account/deletion"), 401)


def test_cancelling_my_scheduled_deletion_keeps_the_account(
    client: TestClient,
    container: Container,
    alice: Account,
    bob: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upload(client, bob, jpeg_bytes(seed=3))
    # As a browser session that outlives the request would: credentials are kept.
    monkeypatch.setattr(container.accounts.repo, "revoke_credentials", lambda s, uid: None)
    r = client.post("/api/account/deletion", json={"password": bob.password}, headers=bob.headers)
    assert r.status_code == 202, r.text
    assert client.get("/api/account/deletion", headers=bob.headers).json()["scheduled"] is True

    r = client.delete("/api/account/deletion", headers=bob.headers)
    assert r.status_code == 204, r.text
    state = client.get("/api/account/deletion", headers=bob.headers).json()
    assert state["scheduled"] is False and state["purge_after"] is None
    actions = [e["action"] for e in client.get("/api/ledger", headers=bob.headers).json()["items"]]
    assert actions[:2] == ["account.deletion_cancelled", "account.deletion_scheduled"]
    assert len(client.get("/api/timeline", headers=bob.headers).json()["items"]) == 1


def test_an_administrators_deletion_cannot_be_cancelled_by_the_account(
    client: TestClient,
    container: Container,
    alice: Account,
    bob: Account,
) -> None:
    r = client.post(f"/api/admin/users/{bob.id}/deletion", json={}, headers=alice.headers)
    assert r.status_code == 202, r.text
    # Bob is disabled at once, so he cannot even ask.
    _assert_problem(client.delete("/api/account/deletion", headers=bob.headers), 401)
    assert client.get("/api/admin/users", headers=alice.headers).status_code == 200
    _assert_problem(
        client.post(
            f"/api/admin/users/{bob.id}/deletion", json={"immediate": "soon"}, headers=alice.headers
        ),
        422,
    )
    _assert_problem(
        client.delete(f"/api/admin/users/{MISSING}/deletion", headers=alice.headers), 404
    )
    _assert_problem(
        client.post(f"/api/admin/users/{alice.id}/deletion", json={}, headers=bob.headers), 401
    )
