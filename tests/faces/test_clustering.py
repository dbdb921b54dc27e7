"""The clustering itself (pure, no database): the constraints users rely on, the preference for
splitting over merging, the incremental step agreeing with the full re-cluster, and the real
model on the shared LFW photos."""

from __future__ import annotations

import random

import numpy as np
import pytest

from keepsake.faces.clustering import (
    ClusterParams,
    FaceSet,
    KnownFaces,
    NewFaces,
    cluster,
    neighbour_graph,
    pairwise_distances,
    person_linkage,
    place_new_faces,
    relabel,
)
from keepsake.ml import FaceAnalyzer
from tests.faces.conftest import FACES_DIR

RNG = np.random.default_rng(3)


def people_at(
    distance: float, per_person: int, spread: float = 0.05
) -> tuple[np.ndarray, list[int]]:
    """Two people whose centres are `distance` apart, `per_person` faces each."""
    a = RNG.normal(size=128)
    a /= np.linalg.norm(a)
    b = RNG.normal(size=128)
    b -= a * (a @ b)
    b /= np.linalg.norm(b)
    centres = [a * 0.5, a * 0.5 + b * distance]
    faces, truth = [], []
    for person, centre in enumerate(centres):
        for _ in range(per_person):
            noise = RNG.normal(size=128)
            faces.append(centre + spread * noise / np.linalg.norm(noise))
            truth.append(person)
    return np.array(faces, dtype=np.float32), truth


def groups(labels: np.ndarray) -> set[frozenset[int]]:
    out: dict[int, set[int]] = {}
    for i, label in enumerate(labels.tolist()):
        if label >= 0:
            out.setdefault(label, set()).add(i)
    return {frozenset(g) for g in out.values()}


def test_close_faces_become_one_person_and_distant_ones_two() -> None:
    faces, _ = people_at(1.0, 4)
    assert groups(cluster(FaceSet.free(faces))) == {frozenset(range(4)), frozenset(range(4, 8))}


def test_two_people_just_beyond_the_clustering_distance_stay_two() -> None:
    # Centres 0.6 apart: under dlib's same-person threshold, over Keepsake's clustering
    # distance. Splitting is preferred: they stay two people.
    faces, _ = people_at(0.6, 5, spread=0.1)
    cross = pairwise_distances(faces[:5], faces[5:])
    assert 0.55 < cross.mean() < 0.7
    assert groups(cluster(FaceSet.free(faces))) == {frozenset(range(5)), frozenset(range(5, 10))}


def test_two_faces_of_one_photo_are_never_one_person() -> None:
    faces, _ = people_at(1.0, 3, spread=0.01)
    photos = np.array([0, 0, 1, 2, 3, 4])  # faces 0 and 1: the same person, one photo
    labels = cluster(FaceSet.free(faces, photos=photos))
    assert labels[0] != labels[1] or labels[0] == -1
    incremental = _incremental(faces, photos, np.ones(6, dtype=bool))
    assert incremental[0] != incremental[1] or incremental[0] == -1


def test_a_rejected_face_never_joins_the_person_and_anchored_faces_stay() -> None:
    faces, _ = people_at(1.0, 4, spread=0.01)
    anchors = np.array([0, 0, -1, -1, 1, -1, -1, -1])
    labels = cluster(
        FaceSet(
            faces,
            np.arange(8),
            np.ones(8, dtype=bool),
            anchors,
            rejected=frozenset({(2, 0)}),
        )
    )
    assert labels[0] == labels[1] == 0 and labels[3] == 0
    assert labels[2] != 0, "face 2 was ruled out of person 0"
    assert labels[4] == 1 and set(labels[5:].tolist()) == {1}


def test_two_confirmed_people_are_never_merged_automatically() -> None:
    faces, _ = people_at(1.0, 4, spread=0.01)
    anchors = np.array([0, 0, 1, 1, -1, -1, -1, -1])  # the user split one person in two
    labels = cluster(FaceSet(faces, np.arange(8), np.ones(8, dtype=bool), anchors))
    assert labels[:2].tolist() == [0, 0] and labels[2:4].tolist() == [1, 1]


def test_faces_too_poor_to_seed_never_make_a_person_alone_but_join_one() -> None:
    faces, _ = people_at(1.0, 3, spread=0.01)
    seeds = np.array([False, False, False, True, False, False])
    labels = cluster(FaceSet.free(faces, seeds=seeds))
    assert labels[:3].tolist() == [-1, -1, -1]
    assert len(set(labels[3:].tolist())) == 1 and labels[3] >= 0


def test_the_sparse_graph_finds_every_pair_within_the_radius() -> None:
    faces = RNG.normal(size=(300, 8)).astype(np.float32) * 0.2
    low, high, distance = neighbour_graph(faces, radius=0.5, max_neighbours=300, block=64)
    dense = pairwise_distances(faces, faces)
    expected = {(i, j) for i in range(300) for j in range(i + 1, 300) if dense[i, j] < 0.5}
    assert set(zip(low.tolist(), high.tolist(), strict=True)) == expected
    assert np.allclose(distance, dense[low, high], atol=1e-5)


def test_an_early_wrong_pair_is_undone_when_the_second_photo_arrives() -> None:
    # H and P1 are 0.51 apart (as two LFW people are); P2 is P1's twin and far from H.
    h = np.zeros(128, dtype=np.float32)
    p1 = h.copy()
    p1[0] = 0.51
    p2 = p1.copy()
    p2[1] = 0.3
    known = KnownFaces(
        np.stack([h, p1]),
        np.array([0, 1]),
        np.ones(2, dtype=bool),
        np.array([0, 0]),
    )
    placed = place_new_faces(known, NewFaces(p2[None, :], np.array([2]), np.ones(1, dtype=bool)))
    assert placed.new_labels.tolist() == [0]
    assert placed.known_changes == {0: -1}, "H leaves the person; P1 and P2 stay"


def test_a_confirmed_person_keeps_its_faces_when_it_grows() -> None:
    h = np.zeros(128, dtype=np.float32)
    p1 = h.copy()
    p1[0] = 0.51
    p2 = p1.copy()
    p2[1] = 0.3
    known = KnownFaces(
        np.stack([h, p1]),
        np.array([0, 1]),
        np.ones(2, dtype=bool),
        np.array([0, 0]),
        confirmed=frozenset({0}),
    )
    placed = place_new_faces(known, NewFaces(p2[None, :], np.array([2]), np.ones(1, dtype=bool)))
    assert placed.new_labels.tolist() == [0] and placed.known_changes == {}


def test_new_faces_pair_with_unassigned_ones_into_a_new_person() -> None:
    faces, _ = people_at(1.0, 2, spread=0.01)
    known = KnownFaces(faces[:1], np.array([0]), np.ones(1, dtype=bool), np.array([-1]))
    placed = place_new_faces(known, NewFaces(faces[1:2], np.array([1]), np.ones(1, dtype=bool)))
    assert placed.created == [0]
    assert placed.new_labels.tolist() == [0] and placed.known_changes == {0: 0}


def test_incremental_in_any_order_ends_where_the_full_recluster_does() -> None:
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(6, 128))
    centres = centres / np.linalg.norm(centres, axis=1, keepdims=True) * 0.75
    faces = np.concatenate(
        [c + 0.03 * rng.normal(size=(5, 128)) / np.sqrt(128) for c in centres]
    ).astype(np.float32)
    full = groups(cluster(FaceSet.free(faces)))
    seeds = np.ones(len(faces), dtype=bool)
    for seed in range(5):
        order = list(range(len(faces)))
        random.Random(seed).shuffle(order)
        labels = _incremental(faces, np.arange(len(faces)), seeds, order)
        assert groups(labels) == full


def test_person_linkage_averages_over_each_persons_faces() -> None:
    faces = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0]], dtype=np.float32)
    numbers, linkage = person_linkage(
        np.array([[0.0, 0.0]], dtype=np.float32), faces, np.array([5, 5, -1])
    )
    assert numbers.tolist() == [5] and linkage[0].tolist() == pytest.approx([0.5])


def test_relabel_keeps_old_numbers_where_most_faces_stay_and_never_hands_out_fixed_ones() -> None:
    old = [0, 0, 0, 1, 1, 2, -1]
    new = [7, 7, 8, 8, 8, 9, 9]
    assert relabel(old, new) == {7: 0, 8: 1, 9: 2}
    assert relabel(old, new, fixed={0}) == {8: 1, 9: 2}


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="distance"):
        ClusterParams(distance=0.9, radius=0.8)


def test_real_lfw_faces_cluster_without_mixing_people(real_analyzer: FaceAnalyzer) -> None:
    """Eight LFW people through the real engine: no person mixes two identities, in the full
    re-cluster and incrementally, and most faces are grouped."""
    from PIL import Image

    from keepsake.ml import is_good_seed

    folders = sorted(p for p in (FACES_DIR / "lfw").iterdir() if p.is_dir())[:8]
    embeddings, truth, seeds = [], [], []
    for folder in folders:
        for path in sorted(folder.glob("*.jpg")):
            with Image.open(path) as image:
                rgb = np.asarray(image.convert("RGB"))
            found = real_analyzer.analyze(rgb)
            if not found:
                continue
            centre = min(
                found,
                key=lambda f: (
                    abs(f.box.x1 + f.box.x2 - rgb.shape[1])
                    + abs(f.box.y1 + f.box.y2 - rgb.shape[0])
                ),
            )
            embeddings.append(centre.embedding)
            truth.append(folder.name)
            seeds.append(is_good_seed(centre))
    faces = np.array(embeddings, dtype=np.float32)
    seed_array = np.array(seeds)
    full = cluster(FaceSet.free(faces, seeds=seed_array))
    incremental = _incremental(faces, np.arange(len(faces)), seed_array)
    for labels in (full, incremental):
        for group in groups(labels):
            assert len({truth[i] for i in group}) == 1, [truth[i] for i in group]
        assert (labels >= 0).mean() > 0.6


def _incremental(
    faces: np.ndarray, photos: np.ndarray, seeds: np.ndarray, order: list[int] | None = None
) -> np.ndarray:
    order = order if order is not None else list(range(len(faces)))
    stored: list[int] = []
    people: list[int] = []
    for face in order:
        known = KnownFaces(
            faces[stored].reshape(-1, faces.shape[1]),
            photos[stored],
            seeds[stored],
            np.array(people, dtype=np.int64),
        )
        placed = place_new_faces(known, NewFaces(faces[[face]], photos[[face]], seeds[[face]]))
        stored.append(face)
        people.append(int(placed.new_labels[0]))
        for position, person in placed.known_changes.items():
            people[position] = person
    labels = np.full(len(faces), -1, dtype=np.int64)
    labels[stored] = people
    return labels
