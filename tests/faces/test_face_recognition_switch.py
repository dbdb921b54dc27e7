"""The consent switch: off by default (no face rows at all), turning it on indexes the whole
library, turning it off deletes every face of the user at once, jobs without it are skipped."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from keepsake.app import Container
from keepsake.faces.jobs import INDEX_ASSET_JOB
from keepsake.jobs.queue import JobResult
from keepsake.media.service import STEP_FACES
from keepsake.storage.models import Asset, AssetStep, FaceRejection, LedgerEntry
from tests.faces.conftest import add_photo, enable, face_rows, people, person_rows, photo
from tests.helpers import Account


def test_face_recognition_is_off_by_default_and_users_without_it_have_no_face_rows(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    enable(client, bob)
    for i in range(3):
        add_photo(client, alice, photo("anna", "ben", seed=i))
    add_photo(client, bob, photo("anna", seed=50))
    assert face_rows(container, alice.id) == 0
    assert person_rows(container, alice.id) == 0
    assert face_rows(container, bob.id) == 1
    state = client.get("/api/users/me/face-recognition", headers=alice.headers).json()
    assert state["enabled"] is False and state["faces"] == 0
    r = client.get("/api/people", headers=alice.headers)
    assert r.status_code == 403
    assert r.json()["type"].endswith("/face-recognition-off")
    with container.db.read() as s:
        steps = set(s.scalars(select(AssetStep.step)))
    assert "preview" in steps


def test_a_face_job_without_consent_is_skipped_and_leaves_a_ledger_entry(
    client: TestClient, container: Container, alice: Account
) -> None:
    asset_id = add_photo(client, alice, photo("anna"))
    assert container.faces.index_asset(asset_id) is JobResult.SKIPPED
    assert face_rows(container) == 0
    with container.db.read() as s:
        actions = list(s.scalars(select(LedgerEntry.action).where(LedgerEntry.user_id == alice.id)))
    assert "faces.skipped_without_consent" in actions


def test_turning_it_on_indexes_the_whole_library(
    client: TestClient, container: Container, alice: Account
) -> None:
    for i in range(3):
        add_photo(client, alice, photo("anna", seed=i))
    state = enable(client, alice)
    assert state["enabled"] is True
    assert state["faces"] == 3 and state["photos_to_index"] == 0
    found = people(client, alice)
    assert [p["face_count"] for p in found] == [3]
    with container.db.read() as s:
        done = list(s.scalars(select(AssetStep.asset_id).where(AssetStep.step == STEP_FACES)))
    assert len(done) == 3


def test_turning_it_off_deletes_every_face_template_and_group_at_once(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    enable(client, alice)
    enable(client, bob)
    for i in range(3):
        add_photo(client, alice, photo("anna", "ben", seed=i))
    add_photo(client, bob, photo("anna", seed=40))
    add_photo(client, bob, photo("anna", seed=41))
    anna = next(p for p in people(client, alice) if p["face_count"] == 3)
    client.patch(f"/api/people/{anna['id']}", json={"name": "Anna"}, headers=alice.headers)
    face_id = faces_of_person(client, alice, anna["id"])[0]
    client.delete(f"/api/people/{anna['id']}/faces/{face_id}", headers=alice.headers)

    # A process that starts afresh has saved the sealed matrix of templates: it goes, too.
    container.faces.cache.drop(alice.id)
    client.get("/api/faces/unassigned", headers=alice.headers)
    assert list(container.blobs.keys(f"face-templates/{alice.id}/"))
    state = enable(client, alice, on=False)
    assert state["enabled"] is False and state["templates_deleted"] == 6
    assert face_rows(container, alice.id) == 0 and person_rows(container, alice.id) == 0
    with container.db.read() as s:
        assert s.scalar(select(FaceRejection.face_id)) is None
        steps = select(AssetStep).join(Asset, Asset.id == AssetStep.asset_id)
        assert not list(
            s.scalars(steps.where(AssetStep.step == STEP_FACES, Asset.owner_id == alice.id))
        )
    assert face_rows(container, bob.id) == 2, "another user's faces are untouched"
    assert container.faces.cache._snapshots.get(alice.id) is None
    assert list(container.blobs.keys(f"face-templates/{alice.id}/")) == []

    # On again: the library is indexed from scratch.
    enable(client, alice)
    assert face_rows(container, alice.id) == 6
    assert sorted(p["face_count"] for p in people(client, alice)) == [3, 3]


def test_turning_it_off_can_keep_the_names_only(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    for i in range(2):
        add_photo(client, alice, photo("anna", "ben", seed=i))
    anna, _ben = people(client, alice)
    client.patch(f"/api/people/{anna['id']}", json={"name": "Anna"}, headers=alice.headers)
    enable(client, alice, on=False, keep_names=True)
    assert face_rows(container, alice.id) == 0
    assert person_rows(container, alice.id) == 1
    enable(client, alice)
    names = [p["name"] for p in people(client, alice)]
    assert "Anna" in names and len(names) == 3


def test_a_job_racing_with_turning_it_off_stores_nothing(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    asset_id = add_photo(client, alice, photo("anna", seed=3))
    enable(client, alice, on=False)
    # The job was queued while face recognition was on; it runs after it went off.
    container.jobs.enqueue(INDEX_ASSET_JOB, asset_id)
    assert face_rows(container, alice.id) == 0


def faces_of_person(client: TestClient, account: Account, person_id: str) -> list[str]:
    detail = client.get(f"/api/people/{person_id}", headers=account.headers).json()
    ids = []
    for asset in detail["assets"]:
        r = client.get(f"/api/assets/{asset['id']}/faces", headers=account.headers)
        ids += [f["id"] for f in r.json() if f["person_id"] == person_id]
    return ids
