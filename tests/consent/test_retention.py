"""Retention, enforced by daily jobs with a clock the tests move, and the schedule in force
published without login (`/privacy`, `/api/privacy`) and in docs/privacy.md."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keepsake.app import Container
from keepsake.auth.access import Principal, Scope
from keepsake.clock import ManualClock
from keepsake.consent.jobs import RETENTION_JOB
from keepsake.consent.ledger import Action
from keepsake.consent.policy import ACTION_TEXT, privacy_markdown
from keepsake.docs import DOCS
from keepsake.media.service import PURGE_TRASH_JOB
from tests.consent.conftest import FakeFaces, cli_env, fill_library
from tests.helpers import Account

pytestmark = pytest.mark.postgres
FACE = "face_recognition"
DAY = timedelta(days=1)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"face_template_retention_days": 30, "trash_retention_days": 5}


def _grant(client: TestClient, account: Account) -> None:
    r = client.put(f"/api/consent/{FACE}", json={"version": 1}, headers=account.headers)
    assert r.status_code == 200, r.text


def test_templates_of_an_inactive_account_are_deleted_by_the_daily_job(
    client: TestClient,
    container: Container,
    clock: ManualClock,
    alice: Account,
    bob: Account,
    faces: FakeFaces,
) -> None:
    _grant(client, alice)
    _grant(client, bob)
    faces.templates[alice.id] = [b"a"] * 4
    faces.templates[bob.id] = [b"b"] * 2

    clock.advance(20 * DAY)
    # Bob keeps using his account (his session is touched); Alice does not.
    assert client.get("/api/users/me", headers=bob.headers).status_code == 200
    clock.advance(9 * DAY)
    container.jobs.enqueue(RETENTION_JOB)
    assert faces.templates[alice.id] == [b"a"] * 4, "29 days without activity is not yet 30"

    clock.advance(2 * DAY)  # Alice: 31 days inactive; Bob: 11
    container.jobs.enqueue(RETENTION_JOB)
    assert alice.id not in faces.templates
    assert faces.templates[bob.id] == [b"b"] * 2
    assert faces.withdrawals == [(alice.id, True)], "names are kept: they are not biometric"
    assert not container.consent.allows(alice.id, FACE), "nothing is made again"
    assert container.consent.allows(bob.id, FACE)

    # Alice's session has expired by now: read her ledger as the service would for her.
    principal = Principal(alice.id, True, frozenset({Scope.READ}))
    entries, _ = container.ledger.entries(principal)
    assert [e.action for e in entries[:2]] == ["face_templates.deleted", "consent.expired"]
    assert entries[0].actor == entries[1].actor == "system:retention"
    assert entries[0].detail == {"count": 4, "names_kept": True}
    assert container.consent.history(principal)[-1].ended_reason == "expired"

    container.jobs.enqueue(RETENTION_JOB)  # handled once
    assert faces.withdrawals == [(alice.id, True)]


def test_a_login_counts_as_activity(
    client: TestClient, container: Container, clock: ManualClock, alice: Account, faces: FakeFaces
) -> None:
    _grant(client, alice)
    faces.templates[alice.id] = [b"a"]
    clock.advance(29 * DAY)
    client.post("/api/auth/login", json={"email": alice.email, "password": alice.password})
    client.cookies.clear()
    clock.advance(29 * DAY)
    container.jobs.enqueue(RETENTION_JOB)
    assert faces.templates[alice.id] == [b"a"]


def test_the_trash_is_purged_by_its_daily_job_after_its_period(
    client: TestClient, container: Container, clock: ManualClock, alice: Account
) -> None:
    ids = fill_library(client, alice, 2)
    client.delete(f"/api/assets/{ids[0]}", headers=alice.headers)
    clock.advance(4 * DAY)
    container.jobs.enqueue(PURGE_TRASH_JOB)
    assert client.get(f"/api/assets/{ids[0]}", headers=alice.headers).status_code == 200
    clock.advance(2 * DAY)
    container.jobs.enqueue(PURGE_TRASH_JOB)
    assert client.get(f"/api/assets/{ids[0]}", headers=alice.headers).status_code == 404
    assert client.get(f"/api/assets/{ids[1]}", headers=alice.headers).status_code == 200


def test_the_schedule_in_force_is_public(client: TestClient) -> None:
    r = client.get("/api/privacy")
    assert r.status_code == 200
    retention = {x["setting"]: x for x in r.json()["retention"]}
    assert retention["KEEPSAKE_FACE_TEMPLATE_RETENTION_DAYS"]["period"] == "30 days"
    assert retention["KEEPSAKE_TRASH_RETENTION_DAYS"]["value"] == 5
    assert {p["name"] for p in r.json()["purposes"]} == {
        "face_recognition",
        "people_sharing",
        "verification_enrollment",
    }
    page = client.get("/privacy")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "30 days" in page.text and "Find and group faces in my own library" in page.text


def test_docs_privacy_is_current_and_states_the_defaults() -> None:
    from keepsake.config import Settings

    text = (DOCS / "privacy.md").read_text()
    assert text == privacy_markdown(Settings.model_construct()), "run make docs"
    assert "1095 days (3 years)" in text and "30 days" in text and "7 days" in text


def test_every_ledger_action_is_explained() -> None:
    assert set(ACTION_TEXT) == set(Action)


def test_the_operator_can_run_retention_now(container: Container, alice: Account) -> None:
    from typer.testing import CliRunner

    from keepsake.cli.main import app as cli

    r = CliRunner().invoke(cli, ["retention", "run"], env=cli_env(container))
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "face templates: success; account deletions: success; trash: success"
