"""Consent per user and purpose: the purposes in code match the database, grant and withdraw
through the API and the CLI, text versions, the policy check and the withdrawal hooks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from typer.testing import CliRunner

from keepsake.app import Container
from keepsake.auth.access import Principal, Scope
from keepsake.cli.main import app as cli
from keepsake.consent import purposes as purposes_module
from keepsake.consent.errors import ConsentRequired
from keepsake.consent.purposes import PURPOSES, Purpose, PurposeName
from keepsake.storage.models import ConsentPurpose, ConsentRecord
from tests.consent.conftest import FakeFaces, cli_env
from tests.helpers import Account

pytestmark = pytest.mark.postgres
runner = CliRunner()
FACE = "face_recognition"


def _faces_on(client: TestClient, account: Account) -> bool:
    """What the faces code says about the account: it asks `allows`, nothing else."""
    r = client.get("/api/users/me/face-recognition", headers=account.headers)
    assert r.status_code == 200, r.text
    return bool(r.json()["enabled"])


def test_the_migration_seeds_exactly_the_purposes_and_texts_in_code(container: Container) -> None:
    with container.db.read() as s:
        rows = s.scalars(select(ConsentPurpose)).all()
    newest: dict[str, ConsentPurpose] = {}
    for row in rows:
        if row.name not in newest or row.version > newest[row.name].version:
            newest[row.name] = row
    assert set(newest) == {str(p) for p in PurposeName}, "a new purpose needs a migration"
    for name, row in newest.items():
        code = PURPOSES[PurposeName(name)]
        assert (row.version, row.title, row.text, row.biometric) == (
            code.version,
            code.title,
            code.text,
            code.biometric,
        ), f"the text of {name} changed without a migration that adds its new version"


def test_nothing_is_granted_until_the_user_grants_it(client: TestClient, alice: Account) -> None:
    r = client.get("/api/consent", headers=alice.headers)
    assert r.status_code == 200
    states = {s["purpose"]["name"]: s for s in r.json()}
    assert set(states) == {"face_recognition", "people_sharing", "verification_enrollment"}
    assert not any(s["granted"] for s in states.values())
    assert all(s["purpose"]["text"] and s["purpose"]["version"] == 1 for s in states.values())


def test_grant_records_who_which_text_when_and_how(
    client: TestClient, container: Container, alice: Account
) -> None:
    r = client.put(f"/api/consent/{FACE}", json={"version": 1}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["granted"] and r.json()["granted_via"] == "api"
    assert container.consent.allows(alice.id, FACE)
    assert not container.consent.allows(alice.id, "people_sharing")
    assert _faces_on(client, alice), "the faces code asks the same policy check"

    history = client.get("/api/consent/history", headers=alice.headers).json()
    assert len(history) == 1
    record = history[0]
    assert record["purpose"] == FACE and record["version"] == 1
    assert record["granted_by"] == f"user:{alice.id}" and record["granted_at"]
    assert record["ended_at"] is None

    again = client.put(f"/api/consent/{FACE}", json={"version": 1}, headers=alice.headers)
    assert again.status_code == 200
    assert len(client.get("/api/consent/history", headers=alice.headers).json()) == 1


def test_a_grant_from_the_web_ui_is_recorded_as_web(
    client: TestClient, container: Container
) -> None:
    from tests.helpers import new_account

    account = new_account(client, "carol@example.org")
    r = client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    csrf = client.cookies.get("keepsake_csrf") or ""
    r = client.put(f"/api/consent/{FACE}", json={"version": 1}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json()["granted_via"] == "web"
    client.cookies.clear()


def test_withdrawing_is_one_call_and_deletes_the_templates_at_once(
    client: TestClient, container: Container, alice: Account, bob: Account, faces: FakeFaces
) -> None:
    client.put(f"/api/consent/{FACE}", json={"version": 1}, headers=alice.headers)
    faces.templates[alice.id] = [b"a" * 512] * 7
    faces.templates[bob.id] = [b"b" * 512] * 3

    r = client.delete(f"/api/consent/{FACE}", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"purpose": FACE, "was_granted": True, "templates_deleted": 7}
    assert alice.id not in faces.templates, "every template of the user, in the same request"
    assert len(faces.templates[bob.id]) == 3, "nobody else's"
    assert faces.withdrawals == [(alice.id, False)]
    assert not container.consent.allows(alice.id, FACE)
    assert not _faces_on(client, alice)

    record = client.get("/api/consent/history", headers=alice.headers).json()[0]
    assert record["ended_reason"] == "withdrawn" and record["ended_via"] == "api"
    actions = [
        e["action"] for e in client.get("/api/ledger", headers=alice.headers).json()["items"]
    ]
    assert actions[:3] == ["face_templates.deleted", "consent.withdrawn", "consent.granted"]
    deleted = client.get(
        "/api/ledger", params={"action": "face_templates.deleted"}, headers=alice.headers
    ).json()["items"][0]
    assert deleted["detail"] == {"count": 7, "names_kept": False}


def test_withdrawal_can_keep_the_names_the_user_gave(
    client: TestClient, alice: Account, faces: FakeFaces
) -> None:
    client.put(f"/api/consent/{FACE}", json={"version": 1}, headers=alice.headers)
    r = client.delete(f"/api/consent/{FACE}?keep_names=true", headers=alice.headers)
    assert r.status_code == 200
    assert faces.withdrawals == [(alice.id, True)]


def test_a_failing_hook_is_reported_and_consent_stays_withdrawn(
    container: Container, alice: Account, faces: FakeFaces
) -> None:
    principal = Principal(alice.id, True, frozenset({Scope.FULL}))
    container.consent.grant(principal, FACE, 1, "api")

    def broken(owner_id: str, keep_names: bool) -> int:
        raise RuntimeError("index unavailable")

    container.consent.on_withdraw(FACE, broken)
    faces.templates[alice.id] = [b"x"]
    with pytest.raises(RuntimeError):
        container.consent.withdraw(principal, FACE, "api")
    assert not container.consent.allows(alice.id, FACE), "processing stops even so"
    assert alice.id not in faces.templates, "the other hooks still deleted"


def test_a_changed_text_needs_consent_again(
    client: TestClient, container: Container, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.put(f"/api/consent/{FACE}", json={"version": 1}, headers=alice.headers)
    assert container.consent.allows(alice.id, FACE)

    # What a migration publishing a new text does, and the code that ships with it.
    old = PURPOSES[PurposeName.FACE_RECOGNITION]
    new = Purpose(old.name, 2, old.title, old.text + " Now also in videos.", old.biometric)
    with container.db.write() as s:
        s.execute(
            insert(ConsentPurpose).values(
                name=FACE, version=2, title=new.title, text=new.text, biometric=True
            )
        )
    monkeypatch.setitem(purposes_module.PURPOSES, PurposeName.FACE_RECOGNITION, new)

    assert not container.consent.allows(alice.id, FACE), "consent to v1 does not cover v2"
    state = next(
        s
        for s in client.get("/api/consent", headers=alice.headers).json()
        if s["purpose"]["name"] == FACE
    )
    assert not state["granted"] and state["needs_renewal"] and state["granted_version"] == 1

    stale = client.put(f"/api/consent/{FACE}", json={"version": 1}, headers=alice.headers)
    assert stale.status_code == 409
    assert stale.json()["type"].endswith("/consent-text-changed")
    assert stale.json()["current_version"] == 2

    r = client.put(f"/api/consent/{FACE}", json={"version": 2}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["granted"]
    assert container.consent.allows(alice.id, FACE)
    with container.db.read() as s:
        records = s.scalars(select(ConsentRecord).where(ConsentRecord.user_id == alice.id)).all()
    assert sorted((r.version, r.ended_reason) for r in records) == [(1, "renewed"), (2, None)]


def test_require_is_a_consent_required_problem(container: Container, alice: Account) -> None:
    with pytest.raises(ConsentRequired) as caught:
        container.consent.require(alice.id, FACE)
    assert caught.value.status == 403 and caught.value.slug == "consent-required"


def test_unknown_purposes_and_read_only_keys_are_refused(
    client: TestClient, alice: Account
) -> None:
    r = client.put("/api/consent/mood_detection", json={"version": 1}, headers=alice.headers)
    assert r.status_code == 404 and "face_recognition" in r.json()["detail"]
    key = client.post(
        "/api/api-keys", json={"name": "viewer", "scopes": ["read"]}, headers=alice.headers
    ).json()["secret"]
    r = client.put(
        f"/api/consent/{FACE}", json={"version": 1}, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 403


def test_consent_from_the_command_line(
    client: TestClient, container: Container, alice: Account
) -> None:
    env = cli_env(container)
    r = runner.invoke(cli, ["consent", "grant", alice.email, FACE, "--yes"], env=env)
    assert r.exit_code == 0, r.output
    assert "version 1" in r.output
    r = runner.invoke(cli, ["consent", "show", alice.email], env=env)
    assert f"{FACE}\tgranted" in r.output and "via cli" in r.output
    history = client.get("/api/consent/history", headers=alice.headers).json()
    assert history[0]["granted_via"] == "cli" and history[0]["granted_by"] == "operator:cli"

    r = runner.invoke(cli, ["consent", "withdraw", alice.email, FACE], env=env)
    assert r.exit_code == 0 and "withdrawn" in r.output, r.output
    assert not client.get("/api/consent", headers=alice.headers).json()[0]["granted"]
    r = runner.invoke(cli, ["consent", "grant", alice.email, "nonsense", "--yes"], env=env)
    assert r.exit_code == 1 and "No purpose" in r.output
