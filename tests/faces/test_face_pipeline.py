"""The face job and what is built on stored faces: idempotent re-runs, boxes in original
coordinates, sealed templates, a change of model, manual faces, crops, search by person and by
example, XMP regions out and in, and users never compared with each other."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import delete, select

from keepsake.app import Container
from keepsake.faces.engine import AnalyzerProvider
from keepsake.faces.jobs import INDEX_ASSET_JOB, RECONCILE_JOB
from keepsake.jobs.queue import JobResult
from keepsake.media.service import STEP_FACES
from keepsake.storage.models import Asset, AssetStep, Face, LedgerEntry
from tests.faces.conftest import (
    FACE_PX,
    add_photo,
    enable,
    face_rows,
    faces_of,
    fake_analyzer,
    people,
    photo,
)
from tests.helpers import Account


def test_rerunning_the_face_job_matches_faces_by_overlap_and_stores_nothing_twice(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    asset_id = add_photo(client, alice, photo("anna", "ben", seed=1))
    first = {f["id"] for f in faces_of(client, alice, asset_id)}
    assert container.faces.index_asset(asset_id) is JobResult.SKIPPED  # done already
    with container.db.write() as s:
        s.execute(delete(AssetStep).where(AssetStep.step == STEP_FACES))
    assert container.faces.index_asset(asset_id) is JobResult.SUCCESS
    assert {f["id"] for f in faces_of(client, alice, asset_id)} == first
    assert face_rows(container) == 2


def test_boxes_are_stored_in_original_pixels_and_templates_sealed(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    # 2880 x 2160 original, 1440 x 1080 preview: the job sees the face at half size.
    asset_id = add_photo(client, alice, photo("anna", size=(2880, 2160), seed=2))
    (face,) = faces_of(client, alice, asset_id)
    box = face["box"]
    assert abs((box["x2"] - box["x1"]) - FACE_PX) <= 10
    assert abs((box["x1"] + box["x2"]) / 2 - 1440) <= 10
    with container.db.read() as s:
        row = s.scalar(select(Face))
    assert row is not None and row.embedding is not None
    assert len(row.embedding) > 512, "sealed: nonce and tag around the 512 template bytes"
    raw = np.frombuffer(row.embedding[13 : 13 + 512], dtype="<f4")
    templates = container.faces.cache._snapshots[alice.id]
    assert not np.allclose(raw, templates.embeddings[0]), "the database holds no plain template"
    assert row.model_id == "fake-1"


def test_a_new_face_model_reindexes_and_never_mixes_templates(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    for i in range(3):
        add_photo(client, alice, photo("anna", seed=i))
    (anna,) = people(client, alice)
    client.patch(f"/api/people/{anna['id']}", json={"name": "Anna"}, headers=alice.headers)
    old_ids = {f.id for f in _faces(container)}

    container.faces.analyzers = AnalyzerProvider.of(fake_analyzer("fake-2"))
    container.jobs.enqueue(RECONCILE_JOB)
    faces = _faces(container)
    assert {f.id for f in faces} == old_ids, "faces are matched by overlap, not replaced"
    assert {f.model_id for f in faces} == {"fake-2"}
    assert (
        people(client, alice)[0]["face_count"] == 3 and people(client, alice)[0]["name"] == "Anna"
    )
    templates = container.faces.cache._snapshots[alice.id]
    assert templates.model_id == "fake-2" and len(templates) == 3
    # A search with the old model's numbers is never compared with the new model's.
    per_face, photos = container.faces.match_faces(alice.id, [faces_embedding("anna")], "fake-1")
    assert per_face == [[]] and photos == []


def test_faces_of_photos_in_the_trash_leave_people_counts_and_searches(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    ids = [add_photo(client, alice, photo("anna", seed=i)) for i in range(3)]
    client.delete(f"/api/assets/{ids[0]}", headers=alice.headers)
    (anna,) = people(client, alice)
    assert anna["face_count"] == 2
    page = client.get("/api/search/people", params={"person_id": anna["id"]}, headers=alice.headers)
    assert {a["id"] for a in page.json()["items"]} == set(ids[1:])


def test_a_manual_face_is_stored_and_a_box_over_a_known_face_assigns_it(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    asset_id = add_photo(client, alice, photo("anna", size=(800, 600), seed=3))
    (detected,) = faces_of(client, alice, asset_id)
    r = client.post(
        f"/api/assets/{asset_id}/faces",
        json={"box": {"x1": 20, "y1": 20, "x2": 120, "y2": 130}, "name": "Grandpa"},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    drawn = r.json()
    assert drawn["source"] == "manual" and drawn["person_name"] == "Grandpa"
    assert drawn["has_template"] is False, "the fake engine cannot align a drawn box"
    box = detected["box"]
    r = client.post(
        f"/api/assets/{asset_id}/faces",
        json={"box": {k: v + 3 for k, v in box.items()}, "name": "Anna"},
        headers=alice.headers,
    )
    assert r.json()["id"] == detected["id"] and r.json()["person_name"] == "Anna"
    assert face_rows(container) == 2
    r = client.post(
        f"/api/assets/{asset_id}/faces",
        json={"box": {"x1": 700, "y1": 20, "x2": 900, "y2": 130}},
        headers=alice.headers,
    )
    assert r.status_code == 422


def test_a_face_crop_is_a_jpeg_of_the_face(client: TestClient, alice: Account) -> None:
    enable(client, alice)
    asset_id = add_photo(client, alice, photo("cleo", size=(2000, 1500), seed=4))
    (face,) = faces_of(client, alice, asset_id)
    r = client.get(f"/api/faces/{face['id']}/crop", headers=alice.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as crop:
        assert max(crop.size) <= 256
        middle = np.asarray(crop.convert("RGB"))[crop.size[1] // 2, crop.size[0] // 2]
    assert middle[2] > 180 and middle[0] < 80, "the crop is centred on the blue face"


def test_search_by_one_person_and_by_several_together_with_a_cursor(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    both = [
        add_photo(client, alice, photo("anna", "ben", seed=i, taken=f"201{i}:02:02 10:00:00"))
        for i in range(3)
    ]
    only_anna = add_photo(client, alice, photo("anna", seed=10))
    add_photo(client, alice, photo("ben", seed=11))
    anna, ben = sorted(people(client, alice), key=lambda p: -p["face_count"])[:2]
    anna_photos = client.get(
        "/api/search/people", params={"person_id": anna["id"]}, headers=alice.headers
    ).json()["items"]
    assert len(anna_photos) == 4
    seen, cursor = [], None
    while True:
        params: dict[str, object] = {"person_id": [anna["id"], ben["id"]], "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/search/people", params=params, headers=alice.headers).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(both)), "photos with both, newest first"
    assert only_anna not in seen
    with container.db.read() as s:
        searches = list(
            s.scalars(select(LedgerEntry.action).where(LedgerEntry.action == "faces.searched"))
        )
    assert searches, "face searches are written to the user's ledger"


def test_search_by_example_finds_my_people_and_photos_and_keeps_nothing(
    client: TestClient, container: Container, alice: Account, tmp_path: Path
) -> None:
    enable(client, alice)
    anna_ids = [add_photo(client, alice, photo("anna", seed=i)) for i in range(2)]
    add_photo(client, alice, photo("ben", seed=5))
    add_photo(client, alice, photo("ben", seed=6))
    (anna,) = [p for p in people(client, alice) if set(_assets(client, alice, p)) == set(anna_ids)]
    faces_before = face_rows(container)
    with container.db.read() as s:
        assets_before = len(list(s.scalars(select(Asset.id))))
    query = photo("anna", "dan", seed=99)
    r = client.post(
        "/api/search/faces", files={"file": ("q.jpg", query, "image/jpeg")}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    result = r.json()
    matches = {tuple(p["person_id"] for p in f["people"]) for f in result["faces"]}
    assert matches == {(anna["id"],), ()}, "Anna found; Dan is not in the library"
    assert [p["asset"]["id"] for p in result["photos"]] in (anna_ids, anna_ids[::-1])
    assert all(p["distance"] < 0.1 for p in result["photos"])
    # Nothing of the query is stored: no asset, no face, no file.
    assert face_rows(container) == faces_before
    with container.db.read() as s:
        assert len(list(s.scalars(select(Asset.id)))) == assets_before
    staged = list((container.settings.data_dir / "staging").iterdir())
    assert staged == []


def test_search_by_example_refuses_what_is_not_a_photo(client: TestClient, alice: Account) -> None:
    enable(client, alice)
    r = client.post(
        "/api/search/faces",
        files={"file": ("q.txt", b"hello, not a photo", "text/plain")},
        headers=alice.headers,
    )
    assert r.status_code == 415 and r.json()["type"].endswith("/unsupported-media")


def test_two_users_with_the_same_person_are_never_compared(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    enable(client, alice)
    enable(client, bob)
    alice_ids = [add_photo(client, alice, photo("anna", seed=i)) for i in range(2)]
    bob_ids = [add_photo(client, bob, photo("anna", seed=20 + i)) for i in range(2)]
    (alice_anna,) = people(client, alice)
    (bob_anna,) = people(client, bob)
    assert alice_anna["id"] != bob_anna["id"]
    assert set(_assets(client, alice, alice_anna)) == set(alice_ids)
    assert set(_assets(client, bob, bob_anna)) == set(bob_ids)
    # Each user's templates are loaded on their own; none of one user's is in the other's.
    cache = container.faces.cache._snapshots
    with container.db.read() as s:
        owner_of = {f.id: f.owner_id for f in s.scalars(select(Face))}
    assert {owner_of[f] for f in cache[alice.id].face_ids} == {alice.id}
    assert {owner_of[f] for f in cache[bob.id].face_ids} == {bob.id}
    r = client.post(
        "/api/search/faces",
        files={"file": ("q.jpg", photo("anna", seed=77), "image/jpeg")},
        headers=bob.headers,
    )
    assert {p["asset"]["id"] for p in r.json()["photos"]} == set(bob_ids)


def test_xmp_regions_go_out_and_come_back_in(client: TestClient, alice: Account) -> None:
    enable(client, alice)
    source = add_photo(client, alice, photo("anna", "ben", seed=1, orientation=6))
    add_photo(client, alice, photo("anna", "ben", seed=2, orientation=6))
    # Left to right: Anna, then Ben (the photo is turned on display, the order is not).
    left, right = sorted(faces_of(client, alice, source), key=lambda f: f["box"]["y1"])
    for face, name in ((left, "Anna"), (right, "Ben")):
        client.patch(f"/api/people/{face['person_id']}", json={"name": name}, headers=alice.headers)
    r = client.get(f"/api/assets/{source}/faces.xmp", headers=alice.headers)
    assert r.status_code == 200 and "mwg-rs:Regions" in r.text and "Anna" in r.text
    sidecar = r.content
    original = {f["person_name"]: f["box"] for f in faces_of(client, alice, source)}

    # The same regions on a photo with no faces yet (face recognition found none there).
    target = add_photo(client, alice, photo(seed=3, orientation=6))
    r = client.post(
        f"/api/assets/{target}/faces.xmp",
        files={"file": ("t.xmp", sidecar, "application/rdf+xml")},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 2, "assigned": 2}
    imported = {f["person_name"]: f for f in faces_of(client, alice, target)}
    assert set(imported) == {"Anna", "Ben"}
    for name, box in original.items():
        got = imported[name]["box"]
        assert all(abs(got[k] - box[k]) < 1.0 for k in box), (name, got, box)
        assert imported[name]["source"] == "xmp"
    # Importing again names the same faces instead of adding more.
    r = client.post(
        f"/api/assets/{target}/faces.xmp",
        files={"file": ("t.xmp", sidecar, "application/rdf+xml")},
        headers=alice.headers,
    )
    assert r.json() == {"created": 0, "assigned": 2}


def test_an_xmp_with_a_doctype_is_refused(client: TestClient, alice: Account) -> None:
    enable(client, alice)
    asset = add_photo(client, alice, photo(seed=1))
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    r = client.post(
        f"/api/assets/{asset}/faces.xmp",
        files={"file": ("t.xmp", bomb, "application/rdf+xml")},
        headers=alice.headers,
    )
    assert r.status_code == 422


def test_the_reconcile_job_enqueues_missing_face_steps_only_for_users_with_the_switch_on(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    enable(client, alice)
    a = add_photo(client, alice, photo("anna", seed=1))
    add_photo(client, bob, photo("anna", seed=2))
    with container.db.write() as s:
        s.execute(delete(Face))
        s.execute(delete(AssetStep).where(AssetStep.step == STEP_FACES))
    container.jobs.enqueue(RECONCILE_JOB)
    with container.db.read() as s:
        done = list(s.scalars(select(AssetStep.asset_id).where(AssetStep.step == STEP_FACES)))
    assert done == [a]
    assert face_rows(container, bob.id) == 0
    container.jobs.enqueue(INDEX_ASSET_JOB, a)  # a duplicate message is harmless
    assert face_rows(container, alice.id) == 1


def _faces(container: Container) -> list[Face]:
    with container.db.read() as s:
        return list(s.scalars(select(Face)))


def _assets(client: TestClient, account: Account, person: dict[str, object]) -> list[str]:
    detail = client.get(f"/api/people/{person['id']}", headers=account.headers).json()
    return [a["id"] for a in detail["assets"]]


def faces_embedding(identity: str) -> np.ndarray:
    from tests.faces.conftest import IDENTITY

    return IDENTITY[identity]


def test_a_fresh_process_reads_the_saved_sealed_matrix_and_decrypts_only_newer_faces(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    for i in range(3):
        add_photo(client, alice, photo("anna", "ben", seed=i))
    faces = container.faces
    expected = faces.cache._snapshots[alice.id]
    opened: list[str] = []
    real_open = faces._open

    def counting_open(owner_id: str, face_id: str, sealed: bytes) -> np.ndarray:
        opened.append(face_id)
        return real_open(owner_id, face_id, sealed)

    faces._open = counting_open  # type: ignore[method-assign]
    faces.cache.drop(alice.id)  # as if the process had restarted
    faces.match_faces(alice.id, [expected.embeddings[0]], "fake-1")
    assert len(opened) == 6, "nothing saved yet: every template decrypted, then saved"
    faces.cache.drop(alice.id)
    opened.clear()
    faces.match_faces(alice.id, [expected.embeddings[0]], "fake-1")
    assert opened == [], "all from the saved matrix"
    loaded = faces.cache._snapshots[alice.id]
    assert set(loaded.face_ids) == set(expected.face_ids)
    for face_id, at in expected.position.items():
        assert np.array_equal(loaded.embeddings[loaded.position[face_id]], expected.embeddings[at])
    raw = b"".join(container.blobs.read(f"face-templates/{alice.id}/matrix"))
    assert expected.embeddings[0].astype("<f4").tobytes() not in raw, "the copy is sealed"
    add_photo(client, alice, photo("cleo", seed=9))
    faces.cache.drop(alice.id)
    opened.clear()
    faces.match_faces(alice.id, [expected.embeddings[0]], "fake-1")
    assert len(opened) == 1, "only the face added since"
