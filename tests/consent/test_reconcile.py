"""The consent reconcile job: a withdrawal whose deletion failed part-way (the process died
after consent ended) is finished by the daily job and at every start, with the real faces
code (fake engine: coloured squares are faces)."""

from __future__ import annotations

from typing import NoReturn

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from keepsake.app import Container, create_app
from keepsake.auth.access import Principal, Scope
from keepsake.consent.jobs import RECONCILE_JOB
from keepsake.jobs.queue import JobResult
from keepsake.storage.models import LedgerEntry, Person
from tests.faces.conftest import IDENTITY, add_photo, enable, face_rows, people, photo
from tests.helpers import Account

pytestmark = pytest.mark.postgres
FACE = "face_recognition"


def _crash(*_args: object, **_kwargs: object) -> NoReturn:
    raise SystemExit("the server stopped here")


def _owner(account: Account) -> Principal:
    return Principal(account.id, False, frozenset({Scope.FULL}))


def _named(container: Container, owner_id: str) -> list[str]:
    with container.db.read() as s:
        query = select(Person.name).where(Person.owner_id == owner_id, Person.name.is_not(None))
        return sorted(n for n in s.scalars(query) if n)


def _unnamed(container: Container, owner_id: str) -> int:
    with container.db.read() as s:
        query = select(func.count()).where(Person.owner_id == owner_id, Person.name.is_(None))
        return int(s.scalar(query) or 0)


def _ledger(container: Container, owner_id: str, action: str) -> list[LedgerEntry]:
    with container.db.read() as s:
        return list(
            s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.user_id == owner_id, LedgerEntry.action == action)
                .order_by(LedgerEntry.seq)
            )
        )


def _library(client: TestClient, container: Container, account: Account) -> None:
    """Six faces in two groups, one of them named."""
    enable(client, account)
    for i in range(3):
        add_photo(client, account, photo("anna", "ben", seed=i))
    anna = next(p for p in people(client, account) if p["face_count"] == 3)
    r = client.patch(f"/api/people/{anna['id']}", json={"name": "Anna"}, headers=account.headers)
    assert r.status_code == 200, r.text
    assert face_rows(container, account.id) == 6


def test_a_withdrawal_that_crashed_after_consent_ended_is_finished_by_the_job(
    client: TestClient,
    container: Container,
    alice: Account,
    bob: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _library(client, container, alice)
    enable(client, bob)
    add_photo(client, bob, photo("cleo", seed=20))

    # The consent row changes, then the process dies before the templates are deleted.
    with monkeypatch.context() as m:
        m.setattr(container.faces, "forget_face_data", _crash)
        with pytest.raises(SystemExit):
            container.consent.withdraw(_owner(alice), FACE, "api")
    assert not container.consent.allows(alice.id, FACE)
    assert face_rows(container, alice.id) == 6, "the crash left the templates"
    assert _ledger(container, alice.id, "face_templates.deleted") == []

    assert container.consent.reconcile() is JobResult.SUCCESS
    assert face_rows(container, alice.id) == 0
    assert _unnamed(container, alice.id) == 0 and _named(container, alice.id) == []
    (entry,) = _ledger(container, alice.id, "face_templates.deleted")
    assert entry.actor == "system:reconcile"
    assert entry.detail == {"count": 6, "names_kept": False}
    assert face_rows(container, bob.id) == 1, "a user who consents keeps their faces"

    # Nothing left to do: running again deletes and records nothing.
    assert container.consent.reconcile() is JobResult.SUCCESS
    assert len(_ledger(container, alice.id, "face_templates.deleted")) == 1
    assert container.ledger.verify_chain(alice.id).ok


def test_the_names_are_kept_when_the_user_asked_to_keep_them(
    client: TestClient, container: Container, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    _library(client, container, alice)
    with monkeypatch.context() as m:
        m.setattr(container.faces, "forget_face_data", _crash)
        with pytest.raises(SystemExit):
            container.consent.withdraw(_owner(alice), FACE, "api", keep_names=True)
    assert container.consent.reconcile() is JobResult.SUCCESS
    assert face_rows(container, alice.id) == 0 and _unnamed(container, alice.id) == 0
    assert _named(container, alice.id) == ["Anna"]


def test_a_saved_template_matrix_left_by_a_crash_is_found_and_deleted(
    client: TestClient, container: Container, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows went, the sealed copy of the matrix did not (a crash between the two)."""
    _library(client, container, alice)
    container.faces.cache.drop(alice.id)
    container.faces.match_faces(alice.id, [IDENTITY["anna"]], "fake-1")  # saves the matrix
    assert list(container.blobs.keys(f"face-templates/{alice.id}/"))
    with monkeypatch.context() as m:
        m.setattr(container.faces, "forget_files", _crash)
        with pytest.raises(SystemExit):
            container.consent.withdraw(_owner(alice), FACE, "api")
    assert face_rows(container, alice.id) == 0
    assert list(container.blobs.keys(f"face-templates/{alice.id}/")), "the crash left it"

    assert container.consent.reconcile() is JobResult.SUCCESS
    assert list(container.blobs.keys(f"face-templates/{alice.id}/")) == []


def test_the_reconcile_job_runs_when_the_server_starts(
    client: TestClient, container: Container, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    _library(client, container, alice)
    with monkeypatch.context() as m:
        m.setattr(container.faces, "forget_face_data", _crash)
        with pytest.raises(SystemExit):
            container.consent.withdraw(_owner(alice), FACE, "api")
    assert face_rows(container, alice.id) == 6
    assert container.jobs.knows(RECONCILE_JOB)

    with TestClient(create_app(container, start_jobs=True)):
        pass  # the lifespan enqueues the start-up jobs (they run at once in tests)
    assert face_rows(container, alice.id) == 0
