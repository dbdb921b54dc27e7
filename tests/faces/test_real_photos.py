"""The whole face pipeline with the real engine on the shared photos (SQLite only: the database
code is covered on both databases by the other face tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from keepsake.app import Container
from keepsake.ml import FaceAnalyzer
from tests.faces.conftest import add_photo, enable, faces_of, people, real_photo
from tests.helpers import Account

KNN = "known_people/face_recognition_knn_examples"
OBAMA = [f"{KNN}/train/obama/obama.jpg", f"{KNN}/train/obama/obama2.jpg", f"{KNN}/test/obama1.jpg"]
BIDEN = [f"{KNN}/train/biden/biden.jpg", f"{KNN}/train/biden/biden2.jpg"]
BOTH = f"{KNN}/test/obama_and_biden.jpg"
QUERY = "known_people/face_recognition_test_images/obama3.jpg"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'keepsake.db'}"


@pytest.fixture
def face_analyzer_for_app(real_analyzer: FaceAnalyzer) -> FaceAnalyzer:
    return real_analyzer


def test_real_photos_become_people_searchable_by_person_and_by_example(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    obama_ids = [add_photo(client, alice, real_photo(p), Path(p).name) for p in OBAMA]
    biden_ids = [add_photo(client, alice, real_photo(p), Path(p).name) for p in BIDEN]
    both = add_photo(client, alice, real_photo(BOTH), "both.jpg")

    found = people(client, alice)
    assert sorted(p["face_count"] for p in found) == [3, 4]
    obama = next(p for p in found if p["face_count"] == 4)
    biden = next(p for p in found if p["face_count"] == 3)
    group = faces_of(client, alice, both)
    # Obama, Biden, and a small face of someone else behind them, left unassigned.
    assert sorted(str(f["person_id"]) for f in group) == sorted([obama["id"], biden["id"], "None"])
    for face in group:
        box = face["box"]
        assert 0 <= box["x1"] < box["x2"] <= 2000 and 0 <= box["y1"] < box["y2"] <= 1428

    r = client.get(
        "/api/search/people",
        params={"person_id": [obama["id"], biden["id"]]},
        headers=alice.headers,
    )
    assert [a["id"] for a in r.json()["items"]] == [both]
    r = client.get(f"/api/people/{obama['id']}", headers=alice.headers)
    assert {a["id"] for a in r.json()["assets"]} == {*obama_ids, both}

    # A photo of Obama that is not in the library finds him and his photos, not Biden's.
    r = client.post(
        "/api/search/faces",
        files={"file": ("q.jpg", real_photo(QUERY), "image/jpeg")},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    result = r.json()
    (face,) = result["faces"]
    assert [p["person_id"] for p in face["people"]] == [obama["id"]]
    assert face["people"][0]["distance"] < 0.6
    photos = [p["asset"]["id"] for p in result["photos"]]
    assert set(photos) == {*obama_ids, both} and not set(photos) & set(biden_ids)

    r = client.get(f"/api/faces/{group[0]['id']}/crop", headers=alice.headers)
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"
    xmp = client.get(f"/api/assets/{both}/faces.xmp", headers=alice.headers).text
    assert xmp.count("<mwg-rs:Type>Face</mwg-rs:Type>") == 3


def test_a_drawn_box_over_a_real_face_gets_a_template(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    asset = add_photo(client, alice, real_photo(OBAMA[0]), "o.jpg")
    (detected,) = faces_of(client, alice, asset)
    with container.db.write() as s:  # as if detection had missed it
        from sqlalchemy import delete

        from keepsake.storage.models import Face

        s.execute(delete(Face))
    box = detected["box"]
    r = client.post(f"/api/assets/{asset}/faces", json={"box": box}, headers=alice.headers)
    assert r.status_code == 201, r.text
    assert r.json()["has_template"] is True and r.json()["source"] == "manual"
    templates = container.faces.cache._snapshots[alice.id]
    assert r.json()["id"] in templates.face_ids


def test_two_users_with_photos_of_the_same_man_each_get_only_their_own(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    enable(client, alice)
    enable(client, bob)
    alice_ids = [add_photo(client, alice, real_photo(p), "a.jpg") for p in OBAMA[:2]]
    bob_ids = [add_photo(client, bob, real_photo(p), "b.jpg") for p in (OBAMA[2], BOTH)]
    (alice_obama,) = people(client, alice)
    bob_people = people(client, bob)
    assert [p["face_count"] for p in bob_people] == [2]
    assert alice_obama["face_count"] == 2
    r = client.post(
        "/api/search/faces",
        files={"file": ("q.jpg", real_photo(QUERY), "image/jpeg")},
        headers=bob.headers,
    )
    assert {p["asset"]["id"] for p in r.json()["photos"]} == set(bob_ids)
    r = client.post(
        "/api/search/faces",
        files={"file": ("q.jpg", real_photo(QUERY), "image/jpeg")},
        headers=alice.headers,
    )
    assert {p["asset"]["id"] for p in r.json()["photos"]} == set(alice_ids)
