"""People: grouping as photos arrive, naming, hiding, covers, merge and undo, split, removing a
face, suggestions, and the promises the user relies on when correcting them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from keepsake.app import Container
from keepsake.faces.jobs import RECLUSTER_JOB
from tests.faces.conftest import add_photo, enable, faces_of, people, photo
from tests.helpers import Account


def _person_faces(client: TestClient, account: Account, person_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/people/{person_id}/faces", headers=account.headers)
    assert r.status_code == 200, r.text
    found = list(r.json())
    # The same as looking through the person's photos.
    detail = client.get(f"/api/people/{person_id}", headers=account.headers).json()
    in_photos = [
        f["id"]
        for asset in detail["assets"]
        for f in faces_of(client, account, asset["id"])
        if f["person_id"] == person_id
    ]
    assert sorted(f["id"] for f in found) == sorted(in_photos)
    return found


def _by_count(client: TestClient, account: Account) -> dict[int, dict[str, Any]]:
    return {p["face_count"]: p for p in people(client, account)}


def test_people_appear_as_photos_arrive_and_two_faces_of_one_photo_stay_apart(
    client: TestClient, alice: Account
) -> None:
    enable(client, alice)
    add_photo(client, alice, photo("anna", seed=1))
    assert people(client, alice) == [], "one face is not a person yet"
    add_photo(client, alice, photo("anna", seed=2))
    add_photo(client, alice, photo("ben", "cleo", seed=3))
    add_photo(client, alice, photo("ben", "cleo", seed=4))
    # The same person twice in one photo (a mirror, a photo of a photo): never one person.
    twice = add_photo(client, alice, photo("anna", "anna_again", seed=5))
    counts = sorted(p["face_count"] for p in people(client, alice))
    assert counts == [2, 2, 3]
    in_twice = [f["person_id"] for f in faces_of(client, alice, twice)]
    assert len(in_twice) == 2 and in_twice[0] != in_twice[1]


def test_a_blurry_face_joins_a_person_but_never_starts_one(
    client: TestClient, alice: Account
) -> None:
    enable(client, alice)
    add_photo(client, alice, photo("anna_blurry", seed=1))
    add_photo(client, alice, photo("anna_blurry", seed=2))
    assert people(client, alice) == []
    add_photo(client, alice, photo("anna", seed=3))
    assert [p["face_count"] for p in people(client, alice)] == [3]


def test_name_rename_hide_and_choose_the_cover(client: TestClient, alice: Account) -> None:
    enable(client, alice)
    for i in range(3):
        add_photo(client, alice, photo("anna", seed=i))
    (anna,) = people(client, alice)
    assert anna["name"] is None and anna["cover_face_id"]
    r = client.patch(f"/api/people/{anna['id']}", json={"name": " Anna "}, headers=alice.headers)
    assert r.json()["name"] == "Anna"
    r = client.patch(f"/api/people/{anna['id']}", json={"name": "Anna K."}, headers=alice.headers)
    assert r.json()["name"] == "Anna K."
    other = next(
        f["id"]
        for f in _person_faces(client, alice, anna["id"])
        if f["id"] != anna["cover_face_id"]
    )
    r = client.patch(
        f"/api/people/{anna['id']}", json={"cover_face_id": other}, headers=alice.headers
    )
    assert r.json()["cover_face_id"] == other
    client.patch(f"/api/people/{anna['id']}", json={"is_hidden": True}, headers=alice.headers)
    assert people(client, alice) == []
    assert [p["id"] for p in people(client, alice, include_hidden=True)] == [anna["id"]]


def test_a_cover_must_be_one_of_the_persons_faces(client: TestClient, alice: Account) -> None:
    enable(client, alice)
    for i in range(2):
        add_photo(client, alice, photo("anna", "ben", seed=i))
    anna, ben = people(client, alice)
    r = client.patch(
        f"/api/people/{anna['id']}",
        json={"cover_face_id": ben["cover_face_id"]},
        headers=alice.headers,
    )
    assert r.status_code == 422


def test_person_detail_lists_photos_newest_first_with_a_cursor(
    client: TestClient, alice: Account
) -> None:
    enable(client, alice)
    for i in range(5):
        add_photo(client, alice, photo("anna", seed=i, taken=f"201{i}:01:01 10:00:00"))
    (anna,) = people(client, alice)
    first = client.get(
        f"/api/people/{anna['id']}", params={"limit": 3}, headers=alice.headers
    ).json()
    assert first["photo_count"] == 5 and first["face_count"] == 5
    rest = client.get(
        f"/api/people/{anna['id']}",
        params={"limit": 3, "cursor": first["next_cursor"]},
        headers=alice.headers,
    ).json()
    years = [a["taken_at"][:4] for a in first["assets"] + rest["assets"]]
    assert years == ["2014", "2013", "2012", "2011", "2010"] and rest["next_cursor"] is None


def test_merge_two_or_more_people_and_undo_the_last_merge(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    for i in range(2):
        add_photo(client, alice, photo("anna", seed=i))
    for i in range(3):
        add_photo(client, alice, photo("ben", seed=10 + i))
    for i in range(4):
        add_photo(client, alice, photo("cleo", seed=20 + i))
    groups = _by_count(client, alice)
    anna, ben, cleo = groups[2], groups[3], groups[4]
    client.patch(f"/api/people/{ben['id']}", json={"name": "Ben"}, headers=alice.headers)
    r = client.post(
        "/api/people/merge",
        json={"target_id": anna["id"], "source_ids": [ben["id"], cleo["id"]]},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["face_count"] == 9 and merged["name"] == "Ben"
    assert [p["id"] for p in people(client, alice)] == [anna["id"]]

    r = client.post("/api/people/merge/undo", headers=alice.headers)
    assert r.status_code == 200, r.text
    back = {p["id"]: p for p in people(client, alice)}
    assert {k: v["face_count"] for k, v in back.items()} == {
        anna["id"]: 2,
        ben["id"]: 3,
        cleo["id"]: 4,
    }
    assert back[ben["id"]]["name"] == "Ben" and back[anna["id"]]["name"] is None
    r = client.post("/api/people/merge/undo", headers=alice.headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/nothing-to-undo")


def test_split_moves_faces_to_a_new_or_another_person_for_good(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    for i in range(4):
        add_photo(client, alice, photo("anna", seed=i))
    for i in range(2):
        add_photo(client, alice, photo("ben", seed=10 + i))
    groups = _by_count(client, alice)
    anna, ben = groups[4], groups[2]
    faces = [f["id"] for f in _person_faces(client, alice, anna["id"])]
    r = client.post(
        f"/api/people/{anna['id']}/split",
        json={"face_ids": faces[:1], "name": "Anna as a child"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    child = r.json()
    assert child["name"] == "Anna as a child" and child["face_count"] == 1
    r = client.post(
        f"/api/people/{anna['id']}/split",
        json={"face_ids": faces[1:2], "target_person_id": ben["id"]},
        headers=alice.headers,
    )
    assert r.json()["face_count"] == 3
    # A full re-cluster keeps the user's decisions.
    container.jobs.enqueue(RECLUSTER_JOB, alice.id)
    counts = {p["id"]: p["face_count"] for p in people(client, alice)}
    assert counts == {anna["id"]: 2, child["id"]: 1, ben["id"]: 3}


def test_a_face_removed_from_a_person_never_returns_to_it(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    # Seeds 0, 7 and 14 put the face in the same place (the fake's template noise depends on
    # it), seed 1 elsewhere: the removed face is the odd one, so where a new face belongs is
    # never a tie between Anna and the removed face.
    add_photo(client, alice, photo("anna", seed=0))
    odd = add_photo(client, alice, photo("anna", seed=1))
    add_photo(client, alice, photo("anna", seed=7))
    (anna,) = people(client, alice)
    (removed,) = [f["id"] for f in faces_of(client, alice, odd)]
    r = client.delete(f"/api/people/{anna['id']}/faces/{removed}", headers=alice.headers)
    assert r.status_code == 204
    assert people(client, alice)[0]["face_count"] == 2
    # Not by a re-cluster, not when more of her photos arrive, not as a suggestion.
    container.jobs.enqueue(RECLUSTER_JOB, alice.id)
    add_photo(client, alice, photo("anna", seed=14))
    assert people(client, alice)[0]["face_count"] == 3
    unassigned = client.get("/api/faces/unassigned", headers=alice.headers).json()
    assert [(f["id"], f["suggestion"]) for f in unassigned] == [(removed, None)]


def test_suggestions_can_be_confirmed_or_rejected(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    for i in range(3):
        add_photo(client, alice, photo("anna", seed=i))
    (anna,) = people(client, alice)
    client.patch(f"/api/people/{anna['id']}", json={"name": "Anna"}, headers=alice.headers)
    look_1 = add_photo(client, alice, photo("anna_lookalike", seed=20))
    # Too far to be grouped with Anna (prefer two people to one wrong one), close enough to ask.
    (face,) = client.get("/api/faces/unassigned", headers=alice.headers).json()
    assert face["asset_id"] == look_1 and face["person_id"] is None
    assert face["suggestion"]["person_id"] == anna["id"]
    assert face["suggestion"]["name"] == "Anna"
    assert 0.55 <= face["suggestion"]["distance"] < 0.6

    r = client.post(
        f"/api/faces/{face['id']}/reject", json={"person_id": anna["id"]}, headers=alice.headers
    )
    assert r.status_code == 204
    (again,) = client.get("/api/faces/unassigned", headers=alice.headers).json()
    assert again["suggestion"] is None

    r = client.put(
        f"/api/faces/{face['id']}/person", json={"person_id": anna["id"]}, headers=alice.headers
    )
    assert r.status_code == 200 and r.json()["assigned_by"] == "user"
    assert people(client, alice)[0]["face_count"] == 4
    assert client.get("/api/faces/unassigned", headers=alice.headers).json() == []
    # The user's assignment survives a full re-cluster, although the face is far from Anna.
    container.jobs.enqueue(RECLUSTER_JOB, alice.id)
    assert people(client, alice)[0]["face_count"] == 4


def test_assigning_by_name_creates_or_finds_the_person(client: TestClient, alice: Account) -> None:
    enable(client, alice)
    asset = add_photo(client, alice, photo("dan", seed=1))
    (face,) = faces_of(client, alice, asset)
    r = client.put(f"/api/faces/{face['id']}/person", json={"name": "Dan"}, headers=alice.headers)
    assert r.json()["person_name"] == "Dan"
    other = add_photo(client, alice, photo("eve", seed=2))
    (face2,) = faces_of(client, alice, other)
    r = client.put(f"/api/faces/{face2['id']}/person", json={"name": "dan"}, headers=alice.headers)
    assert r.json()["person_id"] == face["person_id"] or r.json()["person_name"] == "Dan"
    assert [p["name"] for p in people(client, alice)] == ["Dan"]


def test_a_full_recluster_regroups_automatic_people_but_keeps_named_ones(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    for i in range(3):
        add_photo(client, alice, photo("anna", "ben", seed=i))
    before = {p["id"]: p["face_count"] for p in people(client, alice)}
    anna_id = next(iter(before))
    client.patch(f"/api/people/{anna_id}", json={"name": "Anna"}, headers=alice.headers)
    r = client.post("/api/faces/recluster", headers=alice.headers)
    assert r.status_code == 202
    after = {p["id"]: p["face_count"] for p in people(client, alice)}
    assert after == before, "ids and names survive a re-cluster that finds the same groups"


def test_another_users_person_and_face_are_a_404_everywhere(
    client: TestClient, alice: Account, bob: Account
) -> None:
    enable(client, alice)
    enable(client, bob)
    for i in range(2):
        add_photo(client, alice, photo("anna", seed=i))
    bob_asset = add_photo(client, bob, photo("ben", seed=30))
    (anna,) = people(client, alice)
    face = _person_faces(client, alice, anna["id"])[0]["id"]
    asset = _person_faces(client, alice, anna["id"])[0]["asset_id"]
    h = bob.headers
    checks = [
        client.get(f"/api/people/{anna['id']}", headers=h),
        client.get(f"/api/people/{anna['id']}/faces", headers=h),
        client.patch(f"/api/people/{anna['id']}", json={"name": "x"}, headers=h),
        client.post(f"/api/people/{anna['id']}/split", json={"face_ids": [face]}, headers=h),
        client.delete(f"/api/people/{anna['id']}/faces/{face}", headers=h),
        client.get(f"/api/faces/{face}/crop", headers=h),
        client.put(f"/api/faces/{face}/person", json={"name": "Bob's"}, headers=h),
        client.post(f"/api/faces/{face}/reject", json={"person_id": anna["id"]}, headers=h),
        client.get(f"/api/assets/{asset}/faces", headers=h),
        client.get(f"/api/assets/{asset}/faces.xmp", headers=h),
        client.post(f"/api/assets/{asset}/faces", json={"box": _box()}, headers=h),
        client.get("/api/search/people", params={"person_id": anna["id"]}, headers=h),
    ]
    assert [r.status_code for r in checks] == [404] * len(checks)
    (bob_face,) = faces_of(client, bob, bob_asset)
    r = client.put(f"/api/faces/{bob_face['id']}/person", json={"person_id": anna["id"]}, headers=h)
    assert r.status_code == 404
    r = client.post(
        "/api/people/merge",
        json={"target_id": anna["id"], "source_ids": [anna["id"], "x"]},
        headers=h,
    )
    assert r.status_code == 404


def _box() -> dict[str, float]:
    return {"x1": 10, "y1": 10, "x2": 60, "y2": 60}


def _status(client: TestClient, account: Account) -> dict[str, Any]:
    r = client.get("/api/users/me/face-recognition", headers=account.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_status_says_whether_the_last_merge_can_be_undone(
    client: TestClient, container: Container, alice: Account
) -> None:
    enable(client, alice)
    for i in range(2):
        add_photo(client, alice, photo("anna", seed=i))
    for i in range(3):
        add_photo(client, alice, photo("ben", seed=10 + i))
    groups = _by_count(client, alice)
    anna, ben = groups[2], groups[3]
    client.patch(f"/api/people/{ben['id']}", json={"name": "Ben"}, headers=alice.headers)
    state = _status(client, alice)
    assert state["can_undo_merge"] is False and state["last_merge"] is None

    client.post(
        "/api/people/merge",
        json={"target_id": anna["id"], "source_ids": [ben["id"]]},
        headers=alice.headers,
    )
    client.patch(f"/api/people/{anna['id']}", json={"name": "Anna"}, headers=alice.headers)
    # Another client (a new tab, after a reload) learns it from the server.
    state = _status(client, alice)
    assert state["can_undo_merge"] is True
    assert state["last_merge"]["target"] == {"id": anna["id"], "name": "Anna"}
    assert state["last_merge"]["sources"] == [{"id": ben["id"], "name": "Ben"}]
    assert state["last_merge"]["merged_at"] is not None

    assert client.post("/api/people/merge/undo", headers=alice.headers).status_code == 200
    state = _status(client, alice)
    assert state["can_undo_merge"] is False and state["last_merge"] is None
