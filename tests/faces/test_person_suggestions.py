"""One person's "is this X?" queue (`GET /api/people/{id}/suggestions`): which faces it
holds, in which order, page by page, and that it is the same rule as the people-wide queue."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from keepsake.faces import clustering
from tests.faces.conftest import add_photo, enable, people, photo
from tests.helpers import Account


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Four faces make a person here, so three look-alikes of Anna stay in no person (with
    # the default of two they would become a person of their own) and wait for a question.
    return {"face_min_person_faces": 4}


def _page(client: TestClient, account: Account, person: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/people/{person}/suggestions", params=params, headers=account.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _library(client: TestClient, alice: Account) -> tuple[str, str, list[str], str]:
    """Anna (4 photos), Ben (4), two look-alikes of Anna in no person, one more in the
    trash, and a lone Cleo: (Anna's id, Ben's id, the look-alikes' photos, Cleo's photo)."""
    enable(client, alice)
    for i in range(4):
        add_photo(client, alice, photo("anna", seed=i))
    (anna,) = (p["id"] for p in people(client, alice))
    for i in range(4):
        add_photo(client, alice, photo("ben", seed=10 + i))
    (ben,) = (p["id"] for p in people(client, alice) if p["id"] != anna)
    # Different seeds put the faces in different places: their distances to Anna differ.
    # Three look-alikes in all: one short of a person of their own.
    looks = [add_photo(client, alice, photo("anna_lookalike", seed=20 + i)) for i in range(2)]
    trashed = add_photo(client, alice, photo("anna_lookalike", seed=30))
    cleo = add_photo(client, alice, photo("cleo", seed=40))
    r = client.post("/api/assets/trash", json={"ids": [trashed]}, headers=alice.headers)
    assert r.status_code in (200, 204), r.text
    assert len(people(client, alice)) == 2
    return anna, ben, looks, cleo


def test_a_persons_queue_holds_their_lookalikes_closest_first_and_pages(
    client: TestClient, alice: Account
) -> None:
    anna, ben, looks, cleo = _library(client, alice)
    everything = _page(client, alice, anna)
    items = everything["items"]
    assert sorted(f["asset_id"] for f in items) == sorted(looks), "not the trashed one"
    assert everything["next_cursor"] is None
    distances = [f["suggestion"]["distance"] for f in items]
    assert distances == sorted(distances) and all(0.55 <= d < 0.6 for d in distances)
    assert {f["suggestion"]["person_id"] for f in items} == {anna}
    assert all(f["person_id"] is None for f in items)
    assert cleo not in {f["asset_id"] for f in items}
    assert _page(client, alice, ben)["items"] == []
    # The same faces the people-wide queue asks about Anna.
    wide = client.get("/api/faces/unassigned", headers=alice.headers).json()
    assert sorted(f["id"] for f in wide if f["suggestion"]) == sorted(f["id"] for f in items)

    # One, then the rest: nothing lost or repeated.
    first = _page(client, alice, anna, limit=1)
    assert [f["id"] for f in first["items"]] == [items[0]["id"]]
    rest = _page(client, alice, anna, limit=1, cursor=first["next_cursor"])
    assert [f["id"] for f in rest["items"]] == [items[1]["id"]]
    assert rest["next_cursor"] is None

    # "No" takes a face out of the queue for good, and "yes" does too.
    r = client.post(
        f"/api/faces/{items[0]['id']}/reject", json={"person_id": anna}, headers=alice.headers
    )
    assert r.status_code == 204
    assert [f["id"] for f in _page(client, alice, anna)["items"]] == [items[1]["id"]]
    r = client.put(
        f"/api/faces/{items[1]['id']}/person", json={"person_id": anna}, headers=alice.headers
    )
    assert r.status_code == 200
    assert _page(client, alice, anna)["items"] == []

    # A hidden person is asked about nowhere.
    add_photo(client, alice, photo("anna_lookalike", seed=24))
    assert len(_page(client, alice, anna)["items"]) == 1
    client.patch(f"/api/people/{anna}", json={"is_hidden": True}, headers=alice.headers)
    assert _page(client, alice, anna)["items"] == []

    url = f"/api/people/{anna}/suggestions"
    assert client.get(url, params={"cursor": "%%"}, headers=alice.headers).status_code == 422
    assert client.get(url, params={"limit": 101}, headers=alice.headers).status_code == 422


def test_no_question_about_someone_already_in_the_photo(client: TestClient, alice: Account) -> None:
    enable(client, alice)
    for i in range(4):
        add_photo(client, alice, photo("anna", seed=i))
    (anna,) = people(client, alice)
    add_photo(client, alice, photo("anna", "anna_lookalike", seed=50))
    assert _page(client, alice, anna["id"])["items"] == []
    add_photo(client, alice, photo("anna_lookalike", seed=51))
    assert len(_page(client, alice, anna["id"])["items"]) == 1


def test_the_switch_is_asked_first_and_another_users_person_is_a_404(
    client: TestClient, alice: Account, bob: Account
) -> None:
    enable(client, alice)
    enable(client, bob)
    for i in range(4):
        add_photo(client, alice, photo("anna", seed=i))
    add_photo(client, alice, photo("anna_lookalike", seed=20))
    (anna,) = people(client, alice)
    url = f"/api/people/{anna['id']}/suggestions"
    r = client.get(url, headers=bob.headers)
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
    assert len(client.get(url, headers=alice.headers).json()["items"]) == 1
    enable(client, alice, on=False, keep_names=True)
    r = client.get(url, headers=alice.headers)
    assert r.status_code == 403 and r.json()["type"].endswith("/face-recognition-off")


# --- the rule itself, against asking every face for its closest person ---------------------


def _closest_person(
    at: int,
    embeddings: np.ndarray,
    photos: np.ndarray,
    people: np.ndarray,
    eligible: np.ndarray,
    rejected: frozenset[tuple[int, int]],
    limit: float,
) -> tuple[int, float] | None:
    """What the people-wide queue suggests for one face (FacesService._suggest), by brute
    force."""
    numbers, linkage = clustering.person_linkage(embeddings[[at]], embeddings, people)
    in_photo = set(people[photos == photos[at]].tolist())
    best = None
    for number, distance in zip(numbers.tolist(), linkage[0].tolist(), strict=True):
        if not eligible[number] or number in in_photo or (at, number) in rejected:
            continue
        if distance < limit and (best is None or distance < best[1]):
            best = (number, distance)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_the_fast_rule_matches_asking_each_face_for_its_closest_person(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Twelve people around points 0.5 apart, faces scattered around them, half the faces in
    # no person, photos of one to three faces: many faces near two or three people.
    centres = rng.normal(size=(12, 128)).astype(np.float32)
    centres = centres / np.linalg.norm(centres, axis=1, keepdims=True) * 0.36
    owner = rng.integers(0, 12, size=600)
    embeddings = (centres[owner] + rng.normal(scale=0.03, size=(600, 128))).astype(np.float32)
    people_of = np.where(rng.random(600) < 0.5, owner, -1).astype(np.int64)
    photos = np.sort(rng.integers(0, 350, size=600)).astype(np.int64)
    eligible = rng.random(12) < 0.85
    free = np.flatnonzero(people_of < 0)
    rejected = frozenset(
        (int(f), int(rng.integers(0, 12))) for f in rng.choice(free, size=40, replace=False)
    )
    limit = float(np.median(clustering.person_linkage(embeddings[free], embeddings, people_of)[1]))
    asked = 0
    for number in range(12):
        positions, distances = clustering.suggestions_for_person(
            embeddings,
            photos,
            people_of,
            number,
            distance=limit,
            eligible=eligible,
            rejected=rejected,
        )
        expected = []
        for at in free.tolist():
            best = _closest_person(at, embeddings, photos, people_of, eligible, rejected, limit)
            if best is not None and best[0] == number:
                expected.append((best[1], at))
        expected.sort()
        assert positions.tolist() == [at for _, at in expected]
        assert np.allclose(distances, [d for d, _ in expected], atol=1e-5)
        asked += len(expected)
    assert asked > 20, "the data must ask some questions for the comparison to mean anything"
