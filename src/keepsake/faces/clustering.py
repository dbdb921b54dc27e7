"""Groups one owner's faces into people: a full re-cluster and an incremental step for faces as
they arrive. Pure numpy and Python, no database: the service hands in embeddings and the user's
decisions, and gets back which faces belong together.

Both paths are the same constrained average-linkage agglomeration, so an incremental library
ends up close to what a full re-cluster gives (bench/cluster.py measures how close):

- two faces of one photo are never put in one person;
- a face the user removed from a person (a rejection) never goes back into it;
- faces of a person the user confirmed stay in it (the person is an "anchor"), and two anchors
  are never merged automatically: merging people is the user's call;
- a group becomes a person only if it holds a face good enough to seed one (size, sharpness,
  confidence), so blurry or tiny faces can join a person but never found one by themselves;
- where in doubt the faces stay apart: the threshold is set where no two LFW identities mix,
  because users forgive a person split in two far more readily than two people merged.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CLUSTER_DISTANCE = 0.55
"""Average-linkage Euclidean distance (dlib ResNet embedding units) below which two groups of
faces are one person. Tuned with bench/cluster.py on the shared LFW set (40 people, 150
faces): at 0.45 / 0.50 / 0.55 / 0.58 / 0.60 / 0.65 the full re-cluster's pairwise precision is
1.0 / 1.0 / 1.0 / 1.0 / 1.0 / 0.76 (BCubed F1 0.74 / 0.86 / 0.95 / 0.96 / 0.96 / 0.93), and
the incremental step's, faces arriving in random order, 1.0 up to 0.55, then 0.96 at 0.58 and
0.91 at 0.60. 0.55 is the largest value at which neither mixes two people; a real library
holds look-alike relatives that LFW's celebrities do not, so no more is risked. (dlib's own
same-person threshold is 0.6; no two different LFW people are closer than 0.51.)"""

SUGGEST_DISTANCE = 0.6
"""Average distance (embedding units) of a face to a person's faces under which Keepsake asks
"is this Anna?" for an unassigned face. dlib's verification threshold (99.38% LFW accuracy):
looser than CLUSTER_DISTANCE because the user decides."""

SEARCH_DISTANCE = 0.6
"""Distance (embedding units) under which a face in the library matches a face of a photo
searched by example: dlib's verification threshold, where the ResNet's authors measured
99.38% on LFW pairs. Results are sorted by distance and show it, so the user judges the
borderline ones; bench/lfw.py re-measures the accuracy at this threshold."""

NEIGHBOUR_RADIUS = 0.8
"""Distances above this (embedding units) are not stored in the full re-cluster's sparse graph
and count as exactly this much in the average linkage. Above every same-person distance on the
shared LFW set (max 0.71), so on it the result equals the exact dense computation."""

MAX_NEIGHBOURS = 100
"""Nearest neighbours kept per face in the full re-cluster's graph (memory: faces x this x 16
bytes). Beyond about this many photos of one person, links are sampled rather than complete;
the average linkage then leans on the closest faces, which errs on the side of merging less."""

MIN_PERSON_FACES = 2
"""Faces a group needs before it is shown as a person. Two lets someone who appears twice be
named; a single face stays unassigned and gets suggestions instead."""


@dataclass(frozen=True, slots=True)
class ClusterParams:
    """The thresholds as one value so configuration can override them."""

    distance: float = CLUSTER_DISTANCE
    min_faces: int = MIN_PERSON_FACES
    radius: float = NEIGHBOUR_RADIUS
    max_neighbours: int = MAX_NEIGHBOURS

    def __post_init__(self) -> None:
        if not 0 < self.distance <= self.radius:
            raise ValueError("need 0 < distance <= radius")
        if self.min_faces < 1 or self.max_neighbours < 1:
            raise ValueError("min_faces and max_neighbours must be at least 1")


DEFAULT_PARAMS = ClusterParams()


@dataclass(frozen=True)
class FaceSet:
    """The faces to cluster, by position 0..N-1.

    `photos`: an integer per face; faces with equal numbers are in one photo.
    `seeds`: whether each face may start a group.
    `anchors`: -1 for a free face, else the number (0..) of the confirmed person it stays in.
    `rejected`: (face, anchor) pairs: that face never goes into that person.
    """

    embeddings: FloatMatrix
    photos: IntArray
    seeds: BoolArray
    anchors: IntArray
    rejected: frozenset[tuple[int, int]] = frozenset()

    def __post_init__(self) -> None:
        n = len(self.embeddings)
        if self.embeddings.ndim != 2:
            raise ValueError("embeddings must be an (N, D) matrix")
        for name in ("photos", "seeds", "anchors"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must have one entry per face")

    @classmethod
    def free(
        cls,
        embeddings: npt.ArrayLike,
        photos: npt.ArrayLike | None = None,
        seeds: npt.ArrayLike | None = None,
    ) -> FaceSet:
        """Faces with no user decisions: each in its own photo unless `photos` says otherwise."""
        matrix = np.asarray(embeddings, dtype=np.float32)
        n = len(matrix)
        return cls(
            embeddings=matrix,
            photos=np.arange(n) if photos is None else np.asarray(photos, dtype=np.int64),
            seeds=np.ones(n, dtype=bool) if seeds is None else np.asarray(seeds, dtype=bool),
            anchors=np.full(n, -1, dtype=np.int64),
        )


@dataclass
class _Group:
    members: list[int]
    photos: Counter[int]
    anchor: int
    forbidden: set[int]
    seeded: bool
    version: int = 0
    # Other group -> [sum of stored distances, number of stored pairs].
    links: dict[int, list[float]] = field(default_factory=dict)


def _compatible(a: _Group, b: _Group) -> bool:
    if a.anchor >= 0 and b.anchor >= 0:
        return False
    if a.anchor >= 0 and a.anchor in b.forbidden:
        return False
    if b.anchor >= 0 and b.anchor in a.forbidden:
        return False
    small, large = (a.photos, b.photos) if len(a.photos) < len(b.photos) else (b.photos, a.photos)
    return not any(photo in large for photo in small)


def pairwise_distances(a: FloatMatrix, b: FloatMatrix) -> FloatMatrix:
    """Euclidean distances between the rows of `a` and of `b`, shape (len(a), len(b))."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    squared = (
        np.einsum("ij,ij->i", a, a)[:, None]
        + np.einsum("ij,ij->i", b, b)[None, :]
        - 2.0 * (a @ b.T)
    )
    return np.asarray(np.sqrt(np.maximum(squared, 0.0)), dtype=np.float32)


def neighbour_graph(
    embeddings: FloatMatrix, radius: float, max_neighbours: int, block: int = 2048
) -> tuple[IntArray, IntArray, FloatMatrix]:
    """Each face's nearest other faces within `radius` (at most `max_neighbours`), as edge
    arrays (i, j, distance) with i < j, computed block by block so memory stays
    O(block x N) instead of O(N^2)."""
    n = len(embeddings)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    dists: list[FloatMatrix] = []
    keep = min(max_neighbours + 1, n)
    for start in range(0, n, block):
        distances = pairwise_distances(embeddings[start : start + block], embeddings)
        if keep < n:
            nearest = np.argpartition(distances, keep - 1, axis=1)[:, :keep]
        else:
            nearest = np.broadcast_to(np.arange(n), distances.shape)
        picked = np.take_along_axis(distances, nearest, axis=1)
        i = np.repeat(np.arange(start, start + len(distances)), nearest.shape[1])
        j = nearest.reshape(-1)
        d = picked.reshape(-1)
        mask = (d < radius) & (i != j)
        rows.append(i[mask])
        cols.append(j[mask].astype(np.int64))
        dists.append(d[mask])
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    i = np.concatenate(rows)
    j = np.concatenate(cols)
    d = np.concatenate(dists)
    # An edge found from both ends is kept once.
    low, high = np.minimum(i, j), np.maximum(i, j)
    keys = low * n + high
    _, first = np.unique(keys, return_index=True)
    return low[first], high[first], d[first]


def cluster(faces: FaceSet, params: ClusterParams = DEFAULT_PARAMS) -> IntArray:
    """The full re-cluster: a label per face. An anchored face gets its anchor's number; faces
    grouped into a new person get numbers after the largest anchor; faces left alone get -1.

    Groups are merged closest first (average linkage over the sparse neighbour graph, distances
    beyond `params.radius` counted as `radius`) while the linkage is below `params.distance`
    and the merge breaks none of the constraints in the module docstring."""
    n = len(faces.embeddings)
    groups: dict[int, _Group] = {}
    group_of = np.empty(n, dtype=np.int64)
    by_anchor: dict[int, int] = {}
    forbidden_of: dict[int, set[int]] = {}
    for face, anchor in faces.rejected:
        forbidden_of.setdefault(face, set()).add(anchor)
    for face in range(n):
        anchor = int(faces.anchors[face])
        if anchor >= 0 and anchor in by_anchor:
            group = groups[by_anchor[anchor]]
            group.members.append(face)
            group.photos[int(faces.photos[face])] += 1
            group.forbidden |= forbidden_of.get(face, set())
            group.seeded = group.seeded or bool(faces.seeds[face])
            group_of[face] = by_anchor[anchor]
            continue
        groups[face] = _Group(
            members=[face],
            photos=Counter([int(faces.photos[face])]),
            anchor=anchor,
            forbidden=set(forbidden_of.get(face, set())),
            # A confirmed person may always take faces: the user vouched for it.
            seeded=bool(faces.seeds[face]) or anchor >= 0,
        )
        group_of[face] = face
        if anchor >= 0:
            by_anchor[anchor] = face

    low, high, distance = neighbour_graph(faces.embeddings, params.radius, params.max_neighbours)
    for a, b, d in zip(
        group_of[low].tolist(), group_of[high].tolist(), distance.tolist(), strict=True
    ):
        if a == b:
            continue
        link = groups[a].links.setdefault(b, [0.0, 0.0])
        link[0] += d
        link[1] += 1.0
        groups[b].links[a] = link

    def linkage(a: _Group, b: _Group, link: list[float]) -> float:
        pairs = len(a.members) * len(b.members)
        return (link[0] + (pairs - link[1]) * params.radius) / pairs

    heap: list[tuple[float, int, int, int, int]] = []

    def push(a: int) -> None:
        group = groups[a]
        for b, link in group.links.items():
            other = groups[b]
            value = linkage(group, other, link)
            if value < params.distance:
                heapq.heappush(heap, (value, a, b, group.version, other.version))

    for key in list(groups):
        push(key)
    while heap:
        _, a, b, version_a, version_b = heapq.heappop(heap)
        first, second = groups.get(a), groups.get(b)
        if first is None or second is None:
            continue
        if first.version != version_a or second.version != version_b:
            continue
        # Once two groups may not merge, no group grown from them may either: constraints only
        # accumulate. So a refused pair is simply dropped.
        if not _compatible(first, second):
            continue
        keep, gone = (a, b) if len(first.members) >= len(second.members) else (b, a)
        _merge(groups, keep, gone)
        push(keep)

    labels = np.full(n, -1, dtype=np.int64)
    next_label = int(faces.anchors.max()) + 1 if n and faces.anchors.max() >= 0 else 0
    for group in sorted(groups.values(), key=lambda g: min(g.members)):
        if group.anchor >= 0:
            labels[group.members] = group.anchor
        elif len(group.members) >= params.min_faces and group.seeded:
            labels[group.members] = next_label
            next_label += 1
    return labels


def _merge(groups: dict[int, _Group], keep: int, gone: int) -> None:
    target, source = groups[keep], groups.pop(gone)
    target.members.extend(source.members)
    target.photos.update(source.photos)
    target.anchor = max(target.anchor, source.anchor)
    target.forbidden |= source.forbidden
    target.seeded = target.seeded or source.seeded
    target.version += 1
    target.links.pop(gone, None)
    for other, link in source.links.items():
        if other == keep:
            continue
        neighbour = groups[other]
        neighbour.links.pop(gone, None)
        merged = target.links.get(other)
        if merged is None:
            merged = [0.0, 0.0]
            target.links[other] = merged
            neighbour.links[keep] = merged
        merged[0] += link[0]
        merged[1] += link[1]


@dataclass(frozen=True)
class KnownFaces:
    """The owner's faces already stored (all of one model): where they are and in whom.

    `people`: -1 for an unassigned face, else a person number (any non-negative int).
    `confirmed`: person numbers the user has confirmed (named, edited): fixed groups.
    `rejected`: (stored face position, person number) pairs the user ruled out."""

    embeddings: FloatMatrix
    photos: IntArray
    seeds: BoolArray
    people: IntArray
    confirmed: frozenset[int] = frozenset()
    rejected: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def empty(cls, dim: int = 128) -> KnownFaces:
        return cls(
            np.zeros((0, dim), dtype=np.float32),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=bool),
            np.zeros(0, dtype=np.int64),
        )


@dataclass(frozen=True)
class NewFaces:
    """Faces to place. `rejected`: (new face position, person number) pairs to respect."""

    embeddings: FloatMatrix
    photos: IntArray
    seeds: BoolArray
    rejected: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class Placement:
    """What the incremental step decided.

    `new_labels`: a person number per new face, -1 for unassigned.
    `known_changes`: stored face position -> its new person number (-1: unassigned), for
    the stored faces whose person changed.
    `created`: person numbers in the two fields above that are new people (numbered after the
    largest existing one)."""

    new_labels: IntArray
    known_changes: dict[int, int]
    created: list[int]


SOFT_PERSON_FACES = 20
"""An automatic person the user has not confirmed, with at most this many faces, is checked
each time it grows: a face whose average distance to the person's other faces is no longer
below the clustering distance leaves it (unassigned). Wrong merges happen while groups are
small: two LFW people 0.51 apart pair up before either has a second photo, and when the second
photo of one arrives the odd one out is dropped. On bench/cluster.py this keeps incremental
results, in any arrival order, at pairwise precision 1.0 and within 0.01 BCubed F1 of the full
re-cluster (without it precision fell to 0.96 in some orders). Larger people are stable, and
checking them would cost O(size^2) per photo."""


def place_new_faces(
    known: KnownFaces, new: NewFaces, params: ClusterParams = DEFAULT_PARAMS
) -> Placement:
    """The incremental step for faces that just arrived (typically one photo's faces).

    The full re-cluster's agglomeration, run on the neighbourhood of the new faces: people
    within `params.distance` of a new face (fixed groups that may grow but never merge with
    each other, with exact average distances over all their faces), the unassigned faces
    within two steps of that distance, and the new faces, merged closest first. Then small
    unconfirmed people that grew drop faces that no longer fit (see SOFT_PERSON_FACES).
    Nothing else changes: merging people is the full re-cluster's job, so a face arriving
    never rearranges what the user has been looking at."""
    m = len(new.embeddings)
    known_count = len(known.embeddings)
    next_number = int(known.people.max()) + 1 if known_count and known.people.max() >= 0 else 0
    if m == 0:
        return Placement(np.zeros(0, dtype=np.int64), {}, [])
    to_known = (
        pairwise_distances(new.embeddings, known.embeddings)
        if known_count
        else np.zeros((m, 0), dtype=np.float32)
    )
    assigned = known.people >= 0
    person_ids = np.unique(known.people[assigned])
    person_index = np.searchsorted(person_ids, known.people[assigned])
    counts = np.bincount(person_index, minlength=len(person_ids)).astype(np.float64)

    def to_people(distances: FloatMatrix) -> npt.NDArray[np.float64]:
        """Average distance of each row's face to each person's faces."""
        out = np.empty((len(distances), len(person_ids)), dtype=np.float64)
        for row in range(len(distances)):
            out[row] = (
                np.bincount(
                    person_index, weights=distances[row, assigned], minlength=len(person_ids)
                )
                / counts
            )
        return out

    new_to_people = to_people(to_known) if len(person_ids) else np.zeros((m, 0))
    fixed = [int(i) for i in np.nonzero((new_to_people < params.distance).any(axis=0))[0]]

    unassigned = np.nonzero(~assigned)[0]
    local = unassigned[(to_known[:, unassigned] < params.distance).any(axis=0)]
    if len(local):
        # Two hops: a new face can complete a group with faces close to its neighbours only.
        second = pairwise_distances(known.embeddings[local], known.embeddings[unassigned])
        local = np.union1d(local, unassigned[(second < params.distance).any(axis=0)])
    local_known: list[int] = [int(face) for face in local.tolist()]

    # The local problem: fixed people first, then free stored faces, then the new faces.
    p, u = len(fixed), len(local_known)
    size = p + u + m
    linkage = np.full((size, size), np.inf, dtype=np.float64)
    if u:
        local_to_known = pairwise_distances(known.embeddings[local_known], known.embeddings)
        if p:
            linkage[p : p + u, :p] = to_people(local_to_known)[:, fixed]
        linkage[p : p + u, p : p + u] = local_to_known[:, local_known]
        linkage[p + u :, p : p + u] = to_known[:, local_known]
    if p:
        linkage[p + u :, :p] = new_to_people[:, fixed]
    linkage[p + u :, p + u :] = pairwise_distances(new.embeddings, new.embeddings)
    linkage = np.minimum(linkage, linkage.T)
    np.fill_diagonal(linkage, np.inf)

    photos_of_person: dict[int, Counter[int]] = {int(person_ids[i]): Counter() for i in fixed}
    in_fixed = np.isin(known.people, [int(person_ids[i]) for i in fixed])
    for person, photo in zip(
        known.people[in_fixed].tolist(), known.photos[in_fixed].tolist(), strict=True
    ):
        photos_of_person[person][photo] += 1
    forbidden_known: dict[int, set[int]] = {}
    for face, person in known.rejected:
        forbidden_known.setdefault(face, set()).add(person)
    forbidden_new: dict[int, set[int]] = {}
    for face, person in new.rejected:
        forbidden_new.setdefault(face, set()).add(person)

    groups: list[_Group] = []
    for i in fixed:
        number = int(person_ids[i])
        groups.append(_Group([len(groups)], Counter(photos_of_person[number]), number, set(), True))
    for face in local_known:
        groups.append(
            _Group(
                [len(groups)],
                Counter([int(known.photos[face])]),
                -1,
                set(forbidden_known.get(face, set())),
                bool(known.seeds[face]),
            )
        )
    for i in range(m):
        groups.append(
            _Group(
                [len(groups)],
                Counter([int(new.photos[i])]),
                -1,
                set(forbidden_new.get(i, set())),
                bool(new.seeds[i]),
            )
        )
    weights = np.array([counts[i] for i in fixed] + [1.0] * (u + m), dtype=np.float64)
    alive = np.ones(size, dtype=bool)
    for a, b in _dense_merges(linkage, weights, groups, alive, params.distance):
        _absorb(groups[a], groups[b])

    new_labels = np.full(m, -1, dtype=np.int64)
    local_labels = np.full(u, -1, dtype=np.int64)
    free_groups: list[list[int]] = []
    for index in np.nonzero(alive)[0].tolist():
        group = groups[index]
        if group.anchor >= 0:
            _label(group.members, group.anchor, p, u, local_labels, new_labels)
        elif len(group.members) >= params.min_faces and group.seeded:
            free_groups.append(group.members)
    created: list[int] = []
    for members in free_groups:
        created.append(next_number)
        _label(members, next_number, p, u, local_labels, new_labels)
        next_number += 1
    changes = {
        face: int(label)
        for face, label in zip(local_known, local_labels.tolist(), strict=True)
        if int(known.people[face]) != label
    }
    grown = {
        int(person_ids[i])
        for i in fixed
        if counts[i] <= SOFT_PERSON_FACES and int(person_ids[i]) not in known.confirmed
    }
    for number in sorted(grown):
        _prune(number, known, new, new_labels, changes, params)
    return Placement(new_labels, changes, created)


def _prune(
    number: int,
    known: KnownFaces,
    new: NewFaces,
    new_labels: IntArray,
    changes: dict[int, int],
    params: ClusterParams,
) -> None:
    """Drop from a small person the faces whose average distance to the others is no longer
    below `params.distance`, worst first; all of them if fewer than `min_faces` remain."""
    old = [
        int(i)
        for i in np.nonzero(known.people == number)[0].tolist()
        if changes.get(int(i), number) == number
    ] + [
        face for face, label in changes.items() if label == number and known.people[face] != number
    ]
    fresh = np.nonzero(new_labels == number)[0].tolist()
    if not fresh:
        return
    members = np.concatenate([known.embeddings[old], new.embeddings[fresh]]).astype(np.float32)
    distances = pairwise_distances(members, members).astype(np.float64)
    keep = np.ones(len(members), dtype=bool)
    while keep.sum() > 1:
        inside = np.nonzero(keep)[0]
        mean = distances[np.ix_(inside, inside)].sum(axis=1) / (len(inside) - 1)
        worst = int(np.argmax(mean))
        if mean[worst] < params.distance:
            break
        keep[inside[worst]] = False
    if keep.sum() < params.min_faces:
        keep[:] = False
    for k in np.nonzero(~keep)[0].tolist():
        if k < len(old):
            face = old[k]
            if known.people[face] == -1:
                del changes[face]
            else:
                changes[face] = -1
        else:
            new_labels[fresh[k - len(old)]] = -1


def _absorb(target: _Group, source: _Group) -> None:
    target.members.extend(source.members)
    target.photos.update(source.photos)
    target.anchor = max(target.anchor, source.anchor)
    target.forbidden |= source.forbidden
    target.seeded = target.seeded or source.seeded


def _label(members: list[int], label: int, p: int, u: int, local: IntArray, new: IntArray) -> None:
    for i in members:
        if p <= i < p + u:
            local[i - p] = label
        elif i >= p + u:
            new[i - p - u] = label


def _dense_merges(
    linkage: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    groups: list[_Group],
    alive: BoolArray,
    threshold: float,
) -> Iterable[tuple[int, int]]:
    """Average-linkage agglomeration on a small dense matrix (updated in place with the
    Lance-Williams formula), closest pair first, skipping pairs the constraints forbid.
    Yields each merge (kept, absorbed); the caller merges the groups before the next."""
    blocked = np.zeros(linkage.shape, dtype=bool)
    while True:
        masked = np.where(blocked, np.inf, linkage)
        flat = int(np.argmin(masked))
        a, b = divmod(flat, len(linkage))
        if not masked[a, b] < threshold:
            return
        if not _compatible(groups[a], groups[b]):
            blocked[a, b] = blocked[b, a] = True
            continue
        if groups[b].anchor >= 0:  # keep the person's row
            a, b = b, a
        total = weights[a] + weights[b]
        merged = (weights[a] * linkage[a] + weights[b] * linkage[b]) / total
        linkage[a, :] = merged
        linkage[:, a] = merged
        linkage[a, a] = np.inf
        linkage[b, :] = np.inf
        linkage[:, b] = np.inf
        blocked[a] |= blocked[b]
        blocked[:, a] |= blocked[:, b]
        weights[a] = total
        alive[b] = False
        yield a, b


def person_linkage(
    query: FloatMatrix, embeddings: FloatMatrix, people: IntArray
) -> tuple[IntArray, FloatMatrix]:
    """Average distance of each query face to each person's faces: (person numbers, matrix of
    shape (len(query), len(person numbers))). Faces with person -1 are ignored."""
    assigned = people >= 0
    if not assigned.any() or len(query) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((len(query), 0), dtype=np.float32)
    person_ids, index = np.unique(people[assigned], return_inverse=True)
    counts = np.bincount(index, minlength=len(person_ids)).astype(np.float64)
    distances = pairwise_distances(query, embeddings[assigned])
    out = np.empty((len(query), len(person_ids)), dtype=np.float32)
    for row in range(len(query)):
        out[row] = np.bincount(index, weights=distances[row], minlength=len(person_ids)) / counts
    return person_ids.astype(np.int64), out


def relabel(old: Sequence[int], new: Sequence[int], fixed: Iterable[int] = ()) -> dict[int, int]:
    """Map new cluster labels onto old person numbers so that names and ids survive a
    re-cluster: each new label takes the old number it shares the most faces with, greedily,
    largest overlaps first; `fixed` old numbers (confirmed people) are never handed out.
    Labels -1 are ignored; new labels that get no old number are absent from the result."""
    blocked = set(fixed)
    overlap: Counter[tuple[int, int]] = Counter(
        (n, o) for o, n in zip(old, new, strict=True) if o >= 0 and n >= 0 and o not in blocked
    )
    mapping: dict[int, int] = {}
    taken: set[int] = set()
    for (n, o), _ in sorted(overlap.items(), key=lambda item: (-item[1], item[0])):
        if n in mapping or o in taken:
            continue
        mapping[n] = o
        taken.add(o)
    return mapping


def suggestions_for_person(
    embeddings: FloatMatrix,
    photos: IntArray,
    people: IntArray,
    number: int,
    *,
    distance: float,
    eligible: BoolArray,
    rejected: frozenset[tuple[int, int]] = frozenset(),
    block: int = 1024,
) -> tuple[IntArray, FloatMatrix]:
    """The faces in no person whose suggestion is person `number` ("is this Anna?"): those
    whose average distance to the person is under `distance`, not in a photo the person is
    already in, not ruled out by the user (`rejected` holds (face, person) pairs), and with no
    other eligible person strictly closer. Returns (face positions, average distances),
    closest first. `eligible` says, per person number, who may be suggested at all.

    The same rule as asking each face for its closest person, without comparing every face in
    no person with every face of the library: the distance to a person's centroid is a lower
    bound of the average distance to their faces (the norm is convex), so only faces near the
    person's centroid are measured exactly, and only people whose centroid is nearer than the
    person are measured as rivals."""
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    mine = np.flatnonzero(people == number)
    if not len(mine) or not bool(eligible[number]):
        return empty
    ruled_out = np.array([f for f, n in rejected if n == number], dtype=np.int64)
    free = np.flatnonzero(
        (people < 0) & ~np.isin(photos, photos[mine]) & ~np.isin(np.arange(len(people)), ruled_out)
    )
    # 1e-4: float32 rounding, so the bound never drops a face the exact figure would keep.
    centre = embeddings[mine].mean(axis=0, dtype=np.float64).astype(np.float32)
    bound = np.linalg.norm(embeddings[free] - centre, axis=1)
    free = free[bound < distance + 1e-4]
    link = np.empty(len(free), dtype=np.float32)
    for start in range(0, len(free), block):
        rows = embeddings[free[start : start + block]]
        link[start : start + block] = pairwise_distances(rows, embeddings[mine]).mean(axis=1)
    keep = link < distance
    free, link = free[keep], link[keep]
    if not len(free):
        return empty

    # Rivals: other eligible people that could be closer to a candidate.
    assigned = np.flatnonzero(people >= 0)
    order = assigned[np.argsort(people[assigned], kind="stable")]
    sorted_people = people[order]
    starts = np.flatnonzero(np.r_[True, sorted_people[1:] != sorted_people[:-1]])
    ends = np.r_[starts[1:], len(order)]
    numbers = sorted_people[starts]
    sums = np.add.reduceat(embeddings[order].astype(np.float64), starts, axis=0)
    centres = (sums / (ends - starts)[:, None]).astype(np.float32)
    near = pairwise_distances(embeddings[free], centres) < link[:, None] + 1e-4
    near &= (numbers != number)[None, :] & eligible[numbers][None, :]
    in_photo: dict[int, set[int]] = {}
    wanted_photos = set(photos[free].tolist())
    for face in np.flatnonzero(np.isin(photos, list(wanted_photos))).tolist():
        in_photo.setdefault(int(photos[face]), set()).add(int(people[face]))
    beaten = np.zeros(len(free), dtype=bool)
    for i, k in zip(*np.nonzero(near), strict=True):
        rival, face = int(numbers[k]), int(free[i])
        if beaten[i] or rival in in_photo[int(photos[face])] or (face, rival) in rejected:
            continue
        faces = order[starts[k] : ends[k]]
        rival_link = pairwise_distances(embeddings[[face]], embeddings[faces]).mean()
        beaten[i] = rival_link < link[i]
    free, link = free[~beaten], link[~beaten]
    ranked = np.lexsort((free, link))
    return free[ranked].astype(np.int64), link[ranked]
