"""The consent switch: off by default (no face rows at all), turning it on indexes the whole
library, turning it off deletes every face of the user at once, jobs without it are skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from keepsake.app import Container
from keepsake.auth.access import Principal, Scope
from keepsake.faces.errors import FaceRecognitionOff
from keepsake.faces.jobs import INDEX_ASSET_JOB
from keepsake.jobs.queue import JobResult
from keepsake.media.service import STEP_FACES
from keepsake.storage.models import (
    Asset,
    AssetStep,
    Face,
    FaceRejection,
    LedgerEntry,
)
from tests.faces.conftest import (
    IDENTITY,
    add_photo,
    enable,
    face_rows,
    people,
    person_rows,
    photo,
)
from tests.helpers import Account, publish_new_face_recognition_text, rows_holding


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


def _templates(container: Container, owner_id: str) -> list[tuple[str, bytes]]:
    """(face id, sealed template) of every template the owner has in the database."""
    with container.db.read() as s:
        rows = s.execute(
            select(Face.id, Face.embedding).where(
                Face.owner_id == owner_id, Face.embedding.is_not(None)
            )
        ).all()
    return [(face_id, bytes(sealed)) for face_id, sealed in rows]


def test_withdrawing_leaves_no_template_in_any_file_or_table(
    client: TestClient, container: Container, alice: Account, bob: Account, tmp_path: Path
) -> None:
    """Counted before and after, then every file under the test's folder (the data folder,
    the SQLite files with their write-ahead log) and every row are searched byte by byte."""
    enable(client, alice)
    enable(client, bob)
    for i in range(3):
        add_photo(client, alice, photo("anna", "ben", seed=i))
    add_photo(client, bob, photo("cleo", seed=9))
    container.faces.cache.drop(alice.id)
    # A cold load of the templates (a search) saves them as one sealed matrix.
    container.faces.match_faces(alice.id, [IDENTITY["anna"]], "fake-1")
    principal = Principal(alice.id, False, frozenset({Scope.FULL}))
    plain = [
        np.asarray(t["embedding"], dtype="<f4").tobytes()
        for t in container.faces.export_templates(principal)
    ]
    sealed = _templates(container, alice.id)
    assert len(sealed) == len(plain) == 6
    assert list(container.blobs.keys(f"face-templates/{alice.id}/"))

    r = client.delete("/api/consent/face_recognition", headers=alice.headers)
    assert r.status_code == 200 and r.json()["templates_deleted"] == 6, r.text
    assert _templates(container, alice.id) == [], "every template, in the same request"
    assert len(_templates(container, bob.id)) == 1, "nobody else's"

    wanted = {f"face id {f}": f.encode() for f, _ in sealed}
    # 48 bytes from the middle of each: long enough to be unique, clear of format headers.
    wanted |= {f"sealed template {f}": t[len(t) // 2 : len(t) // 2 + 48] for f, t in sealed}
    wanted |= {f"template {i}": p[100:148] for i, p in enumerate(plain)}
    found = []
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{what} in {path}" for what, value in wanted.items() if value in data]
    found += rows_holding(container, wanted)
    assert found == [], "\n".join(found)


def test_consent_to_an_older_text_does_not_count_for_faces(
    client: TestClient, container: Container, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable(client, alice)
    add_photo(client, alice, photo("anna", seed=1))
    assert face_rows(container, alice.id) == 1

    # The text changes (a migration adds version 2 and the code ships with it).
    publish_new_face_recognition_text(container, monkeypatch, " Also in videos.")

    state = client.get("/api/users/me/face-recognition", headers=alice.headers).json()
    assert state["enabled"] is False
    r = client.get("/api/people", headers=alice.headers)
    assert r.status_code == 403 and r.json()["type"].endswith("/face-recognition-off")
    asset_id = add_photo(client, alice, photo("ben", seed=2))
    assert container.faces.index_asset(asset_id) is JobResult.SKIPPED
    assert face_rows(container, alice.id) == 1, "nothing new is made"
    assert _skips(container, alice.id) >= 1
    # The data waits for the user to accept the new text (or withdraw): not deleted.
    assert container.consent.reconcile() is JobResult.SUCCESS
    assert face_rows(container, alice.id) == 1

    r = client.put("/api/consent/face_recognition", json={"version": 2}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert face_rows(container, alice.id) == 2, "accepting the new text indexes again"


def test_every_face_job_without_consent_is_skipped_and_ledgered(
    client: TestClient, container: Container, alice: Account
) -> None:
    asset_id = add_photo(client, alice, photo("anna", seed=4))
    jobs = [
        lambda: container.faces.index_asset(asset_id),
        lambda: container.faces.index_library(alice.id),
        lambda: container.faces.recluster(alice.id),
        lambda: container.faces.reindex(alice.id),
    ]
    for n, job in enumerate(jobs, start=1):
        assert job() is JobResult.SKIPPED
        assert _skips(container, alice.id) == n
    assert face_rows(container, alice.id) == 0
    with pytest.raises(FaceRecognitionOff):
        container.faces.match_faces(alice.id, [IDENTITY["anna"]], "fake-1")


def test_the_old_flag_column_is_gone(container: Container) -> None:
    columns = {c["name"] for c in inspect(container.db.engine).get_columns("users")}
    assert "face_recognition_enabled" not in columns


def _skips(container: Container, owner_id: str) -> int:
    with container.db.read() as s:
        return len(
            s.scalars(
                select(LedgerEntry.seq).where(
                    LedgerEntry.user_id == owner_id,
                    LedgerEntry.action == "faces.skipped_without_consent",
                )
            ).all()
        )
