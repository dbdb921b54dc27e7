"""The in-memory face templates of each owner: one numpy matrix per user, for clustering and
search without decrypting every template on every request.

An owner's snapshot is valid for one value of their `face_indexes.version`, which every change
to their faces or people bumps in the same transaction. A process that made a change applies
it to its snapshot (`TemplateCache.apply`); any other process sees the version differ and
reloads. Snapshots are immutable, so a search can use one while a job builds the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from keepsake.faces.clustering import BoolArray, FloatMatrix, IntArray


@dataclass(frozen=True)
class Templates:
    """One owner's faces of one model: position i in every array is the face `face_ids[i]`.
    `photos` numbers the assets (`asset_ids[photos[i]]`); `people` numbers the people
    (`person_ids[people[i]]`), -1 for a face in no person."""

    version: int
    model_id: str
    face_ids: tuple[str, ...]
    embeddings: FloatMatrix
    photos: IntArray
    asset_ids: tuple[str, ...]
    seeds: BoolArray
    people: IntArray
    person_ids: tuple[str, ...]
    position: Mapping[str, int] = field(repr=False)
    person_number: Mapping[str, int] = field(repr=False)

    @classmethod
    def build(
        cls,
        version: int,
        model_id: str,
        rows: Sequence[tuple[str, str, str | None, bool, npt.NDArray[np.float32]]],
        dim: int = 128,
    ) -> Templates:
        """From (face id, asset id, person id, is seed, embedding) rows."""
        embeddings = (
            np.stack([r[4] for r in rows]).astype(np.float32, copy=False)
            if rows
            else np.zeros((0, dim), dtype=np.float32)
        )
        return cls.from_columns(
            version,
            model_id,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            np.array([r[3] for r in rows], dtype=bool),
            embeddings,
        )

    @classmethod
    def from_columns(
        cls,
        version: int,
        model_id: str,
        face_ids: Sequence[str],
        asset_ids: Sequence[str],
        person_ids: Sequence[str | None],
        seeds: BoolArray,
        embeddings: FloatMatrix,
    ) -> Templates:
        """From one list per field (numpy does the numbering: 200,000 faces in a second)."""
        # Fixed-width strings sort in C; an object array would compare in Python (20x slower).
        assets, photos = np.unique(np.array(asset_ids, dtype=str), return_inverse=True)
        people_in = np.array([p or "" for p in person_ids], dtype=str)
        numbered, people = np.unique(people_in, return_inverse=True)
        people = people.astype(np.int64)
        if len(numbered) and numbered[0] == "":  # "" sorts first: the faces in no person
            people -= 1
            numbered = numbered[1:]
        person_tuple = tuple(str(p) for p in numbered)
        face_tuple = tuple(face_ids)
        return cls(
            version=version,
            model_id=model_id,
            face_ids=face_tuple,
            embeddings=embeddings,
            photos=photos.astype(np.int64).reshape(-1),
            asset_ids=tuple(str(a) for a in assets),
            seeds=np.asarray(seeds, dtype=bool),
            people=people.reshape(-1),
            person_ids=person_tuple,
            position=dict(zip(face_tuple, range(len(face_tuple)), strict=True)),
            person_number=dict(zip(person_tuple, range(len(person_tuple)), strict=True)),
        )

    def __len__(self) -> int:
        return len(self.face_ids)

    def person_of(self, number: int) -> str | None:
        return self.person_ids[number] if number >= 0 else None

    def number_of(self, person_id: str | None) -> int:
        """The person's number, -1 for None or a person without faces here."""
        return self.person_number.get(person_id, -1) if person_id else -1

    def with_changes(self, change: TemplateChange, version: int) -> Templates:
        """A new snapshot with `change` applied (the old one stays as it was). Costs one copy
        of the arrays; the id lists are rebuilt only when faces were removed."""
        added = [a for a in change.added if a[0] not in change.removed]
        asset_number = dict(zip(self.asset_ids, range(len(self.asset_ids)), strict=True))
        person_number = dict(self.person_number)
        for asset_id in (a[1] for a in added):
            asset_number.setdefault(asset_id, len(asset_number))
        for person_id in [a[2] for a in added] + list(change.people.values()):
            if person_id:
                person_number.setdefault(person_id, len(person_number))

        people = self.people.copy()
        for face_id, person_id in change.people.items():
            at = self.position.get(face_id)
            if at is not None:
                people[at] = person_number[person_id] if person_id else -1
        gone = [self.position[f] for f in change.removed if f in self.position]
        if gone:
            keep = np.ones(len(self), dtype=bool)
            keep[gone] = False
            face_ids = tuple(f for f, k in zip(self.face_ids, keep.tolist(), strict=True) if k)
            embeddings, photos, seeds = self.embeddings[keep], self.photos[keep], self.seeds[keep]
            people = people[keep]
            position = {face_id: i for i, face_id in enumerate(face_ids)}
        else:
            face_ids, embeddings, photos, seeds = (
                self.face_ids,
                self.embeddings,
                self.photos,
                self.seeds,
            )
            position = dict(self.position)
        if added:
            start = len(face_ids)
            face_ids = face_ids + tuple(a[0] for a in added)
            position.update({a[0]: start + i for i, a in enumerate(added)})
            embeddings = np.concatenate(
                [embeddings, np.stack([a[4] for a in added]).astype(np.float32, copy=False)]
            )
            photos = np.concatenate(
                [photos, np.array([asset_number[a[1]] for a in added], dtype=np.int64)]
            )
            seeds = np.concatenate([seeds, np.array([a[3] for a in added], dtype=bool)])
            new_people = [
                person_number[p] if p else -1
                for p in (change.people.get(a[0], a[2]) for a in added)
            ]
            people = np.concatenate([people, np.array(new_people, dtype=np.int64)])
        return Templates(
            version=version,
            model_id=self.model_id,
            face_ids=face_ids,
            embeddings=embeddings,
            photos=photos,
            asset_ids=tuple(asset_number),
            seeds=seeds,
            people=people,
            person_ids=tuple(person_number),
            position=position,
            person_number=person_number,
        )


@dataclass
class TemplateChange:
    """What one transaction did to an owner's templates, to replay on a cached snapshot.

    `added`: (face id, asset id, person id, is seed, embedding) of faces with a template of
    the current model. `people`: face id -> its person now. `removed`: faces gone (or whose
    template is no longer of the current model). `reset`: anything else; drop the snapshot."""

    added: list[tuple[str, str, str | None, bool, npt.NDArray[np.float32]]] = field(
        default_factory=list
    )
    people: dict[str, str | None] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    reset: bool = False
    touched: bool = False

    def touch(self) -> None:
        self.touched = True

    def add(
        self,
        face_id: str,
        asset_id: str,
        person_id: str | None,
        is_seed: bool,
        embedding: npt.NDArray[np.float32],
    ) -> None:
        self.touched = True
        self.added.append((face_id, asset_id, person_id, is_seed, embedding))

    def move(self, face_ids: Sequence[str], person_id: str | None) -> None:
        self.touched = True
        for face_id in face_ids:
            self.people[face_id] = person_id

    def remove(self, face_ids: Sequence[str]) -> None:
        self.touched = True
        self.removed.update(face_ids)


class TemplateCache:
    """Snapshots by owner, thread-safe. Holds at most `max_owners` owners (least recently used
    go first): a server with many users keeps only the active ones' templates in memory."""

    def __init__(self, max_owners: int = 64) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[str, Templates] = {}
        self.max_owners = max_owners
        self.loads = 0  # how many snapshots were built from the database (tests read it)

    def get(
        self, owner_id: str, version: int, model_id: str, load: Callable[[], Templates]
    ) -> Templates:
        with self._lock:
            cached = self._snapshots.get(owner_id)
            if cached is not None and cached.version == version and cached.model_id == model_id:
                self._snapshots[owner_id] = self._snapshots.pop(owner_id)  # most recent last
                return cached
        snapshot = load()
        with self._lock:
            self.loads += 1
            self._put(owner_id, snapshot)
        return snapshot

    def apply(
        self, owner_id: str, from_version: int, to_version: int, change: TemplateChange
    ) -> None:
        """Replay a committed change on the snapshot of `from_version`, if that is the one
        held; otherwise (or for a reset) drop it, and the next reader reloads."""
        with self._lock:
            cached = self._snapshots.get(owner_id)
            if cached is None:
                return
            if change.reset or cached.version != from_version:
                del self._snapshots[owner_id]
                return
            self._put(owner_id, cached.with_changes(change, to_version))

    def drop(self, owner_id: str) -> None:
        with self._lock:
            self._snapshots.pop(owner_id, None)

    def _put(self, owner_id: str, snapshot: Templates) -> None:
        self._snapshots.pop(owner_id, None)
        self._snapshots[owner_id] = snapshot
        while len(self._snapshots) > self.max_owners:
            del self._snapshots[next(iter(self._snapshots))]
