"""SQL for faces, people, rejections and the per-owner face index. Every query that reads or
changes faces or people is scoped by owner: one user's templates are never loaded together
with another user's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from keepsake.storage.models import (
    Asset,
    AssetStep,
    Face,
    FaceIndex,
    FaceRejection,
    Person,
)


@dataclass(frozen=True)
class PersonSummary:
    person: Person
    face_count: int
    cover_face_id: str | None


def _owned(column: InstrumentedAttribute[str], owner_id: str) -> ColumnElement[bool]:
    """`column == owner_id`, written so that no index serves it. In a query that also names
    rows by id (or photo), the database must look those up and check the owner on each:
    without statistics SQLite guesses that an owner has about ten rows, and would otherwise
    read every face of the owner for each batch of ids (measured: minutes for 200,000)."""
    return column.concat("") == owner_id


class FaceRepository:
    # --- who holds face data, and the per-owner index -------------------------------------

    def owners_with_face_data(self, s: Session) -> set[str]:
        """Owners with any face (each may hold a template) or any unnamed person (a face
        group the clustering made): what a withdrawal of consent deletes. Named people
        without faces are not face data (withdrawing can keep the names)."""
        with_faces = select(Face.owner_id).distinct()
        groups = select(Person.owner_id).where(Person.name.is_(None)).distinct()
        return set(s.scalars(with_faces)) | set(s.scalars(groups))

    def lock_index(self, s: Session, owner_id: str, now: datetime) -> FaceIndex:
        """The owner's face index row, locked until the transaction ends (created if missing):
        every change to an owner's faces or people runs under this lock, one at a time."""
        index = s.scalar(select(FaceIndex).where(FaceIndex.owner_id == owner_id).with_for_update())
        if index is None:
            index = FaceIndex(owner_id=owner_id, model_id=None, version=0, updated_at=now)
            s.add(index)
            s.flush()
        return index

    def index_of(self, s: Session, owner_id: str) -> FaceIndex | None:
        return s.get(FaceIndex, owner_id)

    def index_version(self, s: Session, owner_id: str) -> int:
        """The version as stored now (not as loaded earlier in this session)."""
        value = s.scalar(select(FaceIndex.version).where(FaceIndex.owner_id == owner_id))
        return int(value or 0)

    # --- faces -----------------------------------------------------------------------------

    def add_faces(self, s: Session, faces: Sequence[Face]) -> None:
        s.add_all(faces)
        s.flush()

    def face_of(self, s: Session, owner_id: str, face_id: str) -> Face | None:
        return s.scalar(select(Face).where(Face.id == face_id, _owned(Face.owner_id, owner_id)))

    def faces_of(self, s: Session, owner_id: str, face_ids: Sequence[str]) -> list[Face]:
        if not face_ids:
            return []
        return list(
            s.scalars(select(Face).where(_owned(Face.owner_id, owner_id), Face.id.in_(face_ids)))
        )

    def faces_of_asset(self, s: Session, owner_id: str, asset_id: str) -> list[Face]:
        return list(
            s.scalars(
                select(Face)
                .where(_owned(Face.owner_id, owner_id), Face.asset_id == asset_id)
                .order_by(Face.x1, Face.id)
            )
        )

    def faces_of_person(self, s: Session, owner_id: str, person_id: str) -> list[Face]:
        return list(
            s.scalars(select(Face).where(Face.owner_id == owner_id, Face.person_id == person_id))
        )

    def delete_faces(self, s: Session, owner_id: str, face_ids: Sequence[str]) -> None:
        if face_ids:
            s.execute(delete(Face).where(_owned(Face.owner_id, owner_id), Face.id.in_(face_ids)))

    def reassign(
        self,
        s: Session,
        owner_id: str,
        face_ids: Sequence[str],
        person_id: str | None,
        assigned_by: str | None,
    ) -> None:
        for start in range(0, len(face_ids), 500):
            s.execute(
                update(Face)
                .where(_owned(Face.owner_id, owner_id), Face.id.in_(face_ids[start : start + 500]))
                .values(person_id=person_id, assigned_by=assigned_by)
            )

    def move_person_faces(
        self, s: Session, owner_id: str, from_ids: Sequence[str], to_id: str
    ) -> list[str]:
        """Move every face of the `from_ids` people to `to_id`; the moved face ids."""
        moved = list(
            s.scalars(
                select(Face.id).where(Face.owner_id == owner_id, Face.person_id.in_(from_ids))
            )
        )
        s.execute(
            update(Face)
            .where(Face.owner_id == owner_id, Face.person_id.in_(from_ids))
            .values(person_id=to_id)
        )
        return moved

    def template_rows(
        self, s: Session, owner_id: str, model_id: str
    ) -> list[tuple[str, str, str | None, bool]]:
        """(face id, asset id, person id, is seed) of every face of the owner with a template
        of `model_id`, as plain tuples (200,000 of them load in a second); without the sealed
        templates themselves (`sealed_templates` fetches those wanted)."""
        # Core, not the ORM session: plain rows, without the ORM's per-row bookkeeping.
        rows = s.connection().execute(
            select(Face.id, Face.asset_id, Face.person_id, Face.is_seed).where(
                Face.owner_id == owner_id,
                Face.model_id == model_id,
                Face.embedding.is_not(None),
            )
        )
        return [(f, a, p, bool(seed)) for f, a, p, seed in rows]

    def sealed_templates(
        self, s: Session, owner_id: str, face_ids: Sequence[str]
    ) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(face_ids), 500):
            rows = s.execute(
                select(Face.id, Face.embedding).where(
                    _owned(Face.owner_id, owner_id), Face.id.in_(face_ids[start : start + 500])
                )
            )
            found.update({face_id: bytes(sealed) for face_id, sealed in rows if sealed})
        return found

    def templates_page(self, s: Session, owner_id: str, *, after_id: str, limit: int) -> list[Face]:
        """The owner's faces that have a template, by id from `after_id` (keyset pages)."""
        return list(
            s.scalars(
                select(Face)
                .where(Face.owner_id == owner_id, Face.embedding.is_not(None), Face.id > after_id)
                .order_by(Face.id)
                .limit(limit)
            )
        )

    def template_count(self, s: Session, owner_id: str) -> int:
        query = select(func.count()).where(Face.owner_id == owner_id, Face.embedding.is_not(None))
        return int(s.scalar(query) or 0)

    def face_count(self, s: Session, owner_id: str) -> int:
        return int(s.scalar(select(func.count()).where(Face.owner_id == owner_id)) or 0)

    def unassigned_faces(
        self, s: Session, owner_id: str, limit: int, min_quality: float
    ) -> list[Face]:
        """Faces in no person, in photos not in the trash, best first."""
        return list(
            s.scalars(
                select(Face)
                .join(Asset, Asset.id == Face.asset_id)
                .where(
                    Face.owner_id == owner_id,
                    Face.person_id.is_(None),
                    Face.quality >= min_quality,
                    Asset.trashed_at.is_(None),
                )
                .order_by(Face.quality.desc(), Face.id)
                .limit(limit)
            )
        )

    def unassigned_faces_among(
        self, s: Session, owner_id: str, face_ids: Sequence[str]
    ) -> list[Face]:
        """Those of `face_ids` that are the owner's, in no person, in photos not in the trash."""
        if not face_ids:
            return []
        return list(
            s.scalars(
                select(Face)
                .join(Asset, Asset.id == Face.asset_id)
                .where(
                    _owned(Face.owner_id, owner_id),
                    Face.id.in_(face_ids),
                    Face.person_id.is_(None),
                    Asset.trashed_at.is_(None),
                )
            )
        )

    # --- people ----------------------------------------------------------------------------

    def add_person(self, s: Session, person: Person) -> None:
        s.add(person)
        s.flush()

    def person_of(self, s: Session, owner_id: str, person_id: str) -> Person | None:
        return s.scalar(
            select(Person).where(Person.id == person_id, _owned(Person.owner_id, owner_id))
        )

    def people_of(self, s: Session, owner_id: str, person_ids: Sequence[str]) -> list[Person]:
        if not person_ids:
            return []
        return list(
            s.scalars(
                select(Person).where(_owned(Person.owner_id, owner_id), Person.id.in_(person_ids))
            )
        )

    def people_count(self, s: Session, owner_id: str) -> int:
        return int(s.scalar(select(func.count()).where(Person.owner_id == owner_id)) or 0)

    def all_people(self, s: Session, owner_id: str) -> list[Person]:
        return list(s.scalars(select(Person).where(Person.owner_id == owner_id)))

    def person_by_name(self, s: Session, owner_id: str, name: str) -> Person | None:
        """The owner's person with this name, compared without case."""
        return s.scalar(
            select(Person)
            .where(Person.owner_id == owner_id, func.lower(Person.name) == name.lower())
            .order_by(Person.created_at, Person.id)
            .limit(1)
        )

    def delete_people(self, s: Session, owner_id: str, person_ids: Sequence[str]) -> None:
        if person_ids:
            s.execute(
                delete(Person).where(_owned(Person.owner_id, owner_id), Person.id.in_(person_ids))
            )

    def delete_empty_automatic_people(self, s: Session, owner_id: str) -> list[str]:
        """Unnamed, unconfirmed people left without faces; their ids."""
        # NOT EXISTS probes the (person_id, asset_id) index once per automatic person, where
        # NOT IN would read every face of the owner.
        has_faces = select(Face.id).where(Face.person_id == Person.id).exists()
        empty = list(
            s.scalars(
                select(Person.id).where(
                    Person.owner_id == owner_id,
                    Person.is_confirmed.is_(False),
                    Person.name.is_(None),
                    ~has_faces,
                )
            )
        )
        self.delete_people(s, owner_id, empty)
        return empty

    def summaries(
        self, s: Session, owner_id: str, *, include_hidden: bool, person_ids: Sequence[str] = ()
    ) -> list[PersonSummary]:
        """People with how many faces they have in photos outside the trash, and a cover face
        (the chosen one if it is still theirs, else their best face), named people first."""
        visible = (
            select(Face.person_id, Face.id, Face.quality)
            .join(Asset, Asset.id == Face.asset_id)
            .where(
                Face.owner_id == owner_id,
                Face.person_id.is_not(None),
                Asset.trashed_at.is_(None),
            )
        )
        if person_ids:
            visible = visible.where(Face.person_id.in_(person_ids))
        ranked = visible.add_columns(
            func.row_number()
            .over(partition_by=Face.person_id, order_by=(Face.quality.desc(), Face.id))
            .label("rank"),
            func.count().over(partition_by=Face.person_id).label("n"),
        ).subquery()
        best = select(ranked.c.person_id, ranked.c.id, ranked.c.n).where(ranked.c.rank == 1)
        best_by_person = {pid: (face_id, int(n)) for pid, face_id, n in s.execute(best)}
        query = select(Person).where(Person.owner_id == owner_id)
        if not include_hidden:
            query = query.where(Person.is_hidden.is_(False))
        if person_ids:
            query = query.where(Person.id.in_(person_ids))
        people = list(s.scalars(query))
        covers_owned = set()
        chosen = [p.cover_face_id for p in people if p.cover_face_id]
        if chosen:
            covers_owned = set(
                s.execute(
                    select(Face.id, Face.person_id).where(
                        _owned(Face.owner_id, owner_id), Face.id.in_(chosen)
                    )
                ).all()
            )
        out = []
        for person in people:
            face_id, count = best_by_person.get(person.id, (None, 0))
            cover = person.cover_face_id
            if cover is None or (cover, person.id) not in covers_owned:
                cover = face_id
            out.append(PersonSummary(person, count, cover))
        out.sort(
            key=lambda p: (p.person.name is None, (p.person.name or "").lower(), -p.face_count)
        )
        return out

    # --- rejections ------------------------------------------------------------------------

    def add_rejections(self, s: Session, pairs: Sequence[tuple[str, str]], when: datetime) -> None:
        existing = set()
        if pairs:
            existing = set(
                s.execute(
                    select(FaceRejection.face_id, FaceRejection.person_id).where(
                        FaceRejection.face_id.in_([f for f, _ in pairs])
                    )
                ).all()
            )
        s.add_all(
            FaceRejection(face_id=f, person_id=p, created_at=when)
            for f, p in dict.fromkeys(pairs)
            if (f, p) not in existing
        )
        s.flush()

    def delete_rejections(self, s: Session, pairs: Sequence[tuple[str, str]]) -> None:
        for face_id, person_id in pairs:
            s.execute(
                delete(FaceRejection).where(
                    FaceRejection.face_id == face_id, FaceRejection.person_id == person_id
                )
            )

    def rejections_of(self, s: Session, owner_id: str) -> set[tuple[str, str]]:
        rows = s.execute(
            select(FaceRejection.face_id, FaceRejection.person_id)
            .join(Person, Person.id == FaceRejection.person_id)
            .where(Person.owner_id == owner_id)
        )
        return {(face_id, person_id) for face_id, person_id in rows}

    def rejections_of_people(self, s: Session, person_ids: Sequence[str]) -> list[tuple[str, str]]:
        if not person_ids:
            return []
        rows = s.execute(
            select(FaceRejection.face_id, FaceRejection.person_id).where(
                FaceRejection.person_id.in_(person_ids)
            )
        )
        return [(face_id, person_id) for face_id, person_id in rows]

    # --- assets ----------------------------------------------------------------------------

    def asset_of(self, s: Session, owner_id: str, asset_id: str) -> Asset | None:
        return s.scalar(select(Asset).where(Asset.id == asset_id, _owned(Asset.owner_id, owner_id)))

    def asset_by_id(self, s: Session, asset_id: str) -> Asset | None:
        """Unscoped: for jobs, which act for the owner recorded on the asset."""
        return s.get(Asset, asset_id)

    def assets_of(self, s: Session, owner_id: str, asset_ids: Sequence[str]) -> list[Asset]:
        if not asset_ids:
            return []
        return list(
            s.scalars(
                select(Asset).where(
                    _owned(Asset.owner_id, owner_id),
                    Asset.id.in_(asset_ids),
                    Asset.trashed_at.is_(None),
                )
            )
        )

    def assets_with_people(
        self,
        s: Session,
        owner_id: str,
        person_ids: Sequence[str],
        *,
        limit: int,
        before: tuple[datetime, str] | None,
    ) -> list[Asset]:
        """Photos (not in the trash) showing every one of `person_ids`, newest first, keyset
        paginated on (taken_at, id) as the timeline is.

        Walks the first person's faces in the (person_id, taken_at, asset_id) index, newest
        first, probing for the others in the same photo, and stops after a page: the cost
        grows with the page, not with how many photos the person is in."""
        wanted = list(dict.fromkeys(person_ids))
        if len(wanted) > 1:
            # Walk the person with the fewest faces; probe for the others.
            counts = dict(
                s.execute(
                    select(Face.person_id, func.count())
                    .where(Face.person_id.in_(wanted))
                    .group_by(Face.person_id)
                ).all()
            )
            wanted.sort(key=lambda person: int(counts.get(person, 0)))
        first, *others = wanted
        # The owner is checked on the photo (read anyway for the trash), so the walk over the
        # person's faces never leaves the (person_id, taken_at, asset_id) index.
        query = (
            select(Asset, Face.taken_at, Face.asset_id)
            .join(Asset, Asset.id == Face.asset_id)
            .where(
                Face.person_id == first,
                _owned(Asset.owner_id, owner_id),
                Asset.trashed_at.is_(None),
            )
        )
        for other in others:
            also = aliased(Face)
            present = (
                select(also.id)
                .where(also.asset_id == Face.asset_id, also.person_id == other)
                .correlate(Face)
                .exists()
            )
            query = query.where(present)
        query = query.order_by(Face.taken_at.desc(), Face.asset_id.desc())
        found: list[Asset] = []
        seen: set[str] = set()
        while len(found) < limit:
            room = limit - len(found)
            page = query
            if before is not None:
                taken, asset_id = before
                page = page.where(
                    or_(
                        Face.taken_at < taken,
                        and_(Face.taken_at == taken, Face.asset_id < asset_id),
                    )
                )
            rows = s.execute(page.limit(room)).all()
            for asset, taken, asset_id in rows:
                # A person in a photo twice (the user assigned both faces) lists it once.
                if asset_id not in seen:
                    seen.add(asset_id)
                    found.append(asset)
                before = (taken, asset_id)
            if len(rows) < room:
                break
        return found

    def person_photo_count(self, s: Session, owner_id: str, person_id: str) -> int:
        return int(
            s.scalar(
                select(func.count(func.distinct(Face.asset_id)))
                .join(Asset, Asset.id == Face.asset_id)
                .where(
                    Face.owner_id == owner_id,
                    Face.person_id == person_id,
                    Asset.trashed_at.is_(None),
                )
            )
            or 0
        )

    # --- the face step ---------------------------------------------------------------------

    def mark_faces_done(self, s: Session, asset_id: str, step: str, when: datetime) -> None:
        if s.get(AssetStep, (asset_id, step)) is None:
            s.add(AssetStep(asset_id=asset_id, step=step, done_at=when))

    def is_done(self, s: Session, asset_id: str, step: str) -> bool:
        return s.get(AssetStep, (asset_id, step)) is not None

    def _to_index(self, owner_id: str, step: str, preview_step: str) -> Any:
        done = select(AssetStep.asset_id).where(AssetStep.step == step)
        previewed = select(AssetStep.asset_id).where(AssetStep.step == preview_step)
        return (
            Asset.owner_id == owner_id,
            Asset.trashed_at.is_(None),
            Asset.id.in_(previewed),
            Asset.id.not_in(done),
        )

    def assets_to_index(
        self,
        s: Session,
        owner_id: str,
        step: str,
        preview_step: str,
        limit: int,
        *,
        after: str = "",
    ) -> list[str]:
        """The owner's photos (not in the trash) with a preview and without the face step,
        by id, from after `after`."""
        return list(
            s.scalars(
                select(Asset.id)
                .where(*self._to_index(owner_id, step, preview_step), Asset.id > after)
                .order_by(Asset.id)
                .limit(limit)
            )
        )

    def count_to_index(self, s: Session, owner_id: str, step: str, preview_step: str) -> int:
        query = select(func.count()).select_from(Asset)
        return int(s.scalar(query.where(*self._to_index(owner_id, step, preview_step))) or 0)

    def clear_face_steps(self, s: Session, owner_id: str, step: str) -> None:
        mine = select(Asset.id).where(Asset.owner_id == owner_id)
        s.execute(delete(AssetStep).where(AssetStep.step == step, AssetStep.asset_id.in_(mine)))

    # --- turning face recognition off -------------------------------------------------------

    def delete_face_data(self, s: Session, owner_id: str, *, keep_names: bool) -> int:
        """Delete every face, template, rejection and person of the owner (people with a
        name survive, empty, when `keep_names`); the number of templates deleted."""
        templates = int(
            s.scalar(
                select(func.count()).where(Face.owner_id == owner_id, Face.embedding.is_not(None))
            )
            or 0
        )
        s.execute(delete(Face).where(Face.owner_id == owner_id))
        people = delete(Person).where(Person.owner_id == owner_id)
        if keep_names:
            people = people.where(Person.name.is_(None))
            s.execute(update(Person).where(Person.owner_id == owner_id).values(cover_face_id=None))
        s.execute(people)
        return templates
